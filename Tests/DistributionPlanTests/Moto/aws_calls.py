"""AWS calls for the moto script tests, through botocore (which the AWS CLI is built on).

    python3 aws_calls.py batch      JSON list of {account, region, service, operation, params} on
                                    standard input; one JSON response (or {"Error": ...}) a line out.
                                    Seeds moto and reads its state back in one process, as each
                                    `aws` command costs a Python start of about 0.4 s.
    python3 aws_calls.py emulate SERVICE OPERATION [ARGS...]
                                    Answers an `aws` command that moto does not implement (the stand-in
                                    `aws` sends only those here), as the real service would: the
                                    arguments are checked against botocore's model of the operation as
                                    the AWS CLI checks them, the call is recorded in IMGSHIP_EMULATED_LOG
                                    and the answer printed through --query and --output.

The environment gives the owner's keys (AWS_ACCESS_KEY_ID), the owner account (IMGSHIP_OWNER_ACCOUNT)
and the moto endpoint (AWS_ENDPOINT_URL). Other accounts are reached as the script reaches them,
through sts:AssumeRole of EC2ImageBuilderDistributionCrossAccountRole.
"""
import json
import os
import secrets
import sys

import botocore.session
from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import validate_parameters

ROLE = "EC2ImageBuilderDistributionCrossAccountRole"
OWNER_ACCOUNT = os.environ.get("IMGSHIP_OWNER_ACCOUNT", "123456789012")
OWNER_KEY = os.environ.get("IMGSHIP_OWNER_KEY", "testing")


class Accounts:
    """botocore clients per account, service and region; other accounts through AssumeRole."""

    def __init__(self):
        self.session = botocore.session.get_session()
        self.credentials = {}
        self.clients = {}

    def client(self, service, region, account=OWNER_ACCOUNT, credentials=None):
        if credentials is None:
            credentials = self.credentials_of(account)
        key = (service, region, credentials["aws_access_key_id"])
        if key not in self.clients:
            self.clients[key] = self.session.create_client(service, region_name=region, **credentials)
        return self.clients[key]

    def credentials_of(self, account):
        if account == OWNER_ACCOUNT:
            return {"aws_access_key_id": OWNER_KEY,
                    "aws_secret_access_key": os.environ.get("IMGSHIP_OWNER_SECRET", "testing")}
        if account not in self.credentials:
            sts = self.client("sts", "us-east-1")
            answer = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="imgship-moto-tests")
            keys = answer["Credentials"]
            self.credentials[account] = {"aws_access_key_id": keys["AccessKeyId"],
                                         "aws_secret_access_key": keys["SecretAccessKey"],
                                         "aws_session_token": keys["SessionToken"]}
        return self.credentials[account]


def without_metadata(response):
    response = dict(response)
    response.pop("ResponseMetadata", None)
    return response


def batch():
    accounts = Accounts()
    for request in json.load(sys.stdin):
        client = accounts.client(request["service"], request["region"], request.get("account", OWNER_ACCOUNT))
        try:
            response = getattr(client, xform_name(request["operation"]))(**request.get("params", {}))
            print(json.dumps(without_metadata(response), default=str), flush=True)
        except ClientError as error:
            print(json.dumps({"Error": error.response.get("Error", {})}), flush=True)


# ---- emulate


class CommandLineError(Exception):
    """The AWS CLI would refuse the command before any call; the text is what it prints."""


def parse(service, operation_name, arguments, model):
    """CLI arguments to API parameters, as the AWS CLI maps them: JSON values (no shorthand), and
    lists of strings as words."""
    operation = model.operation_model(operation_name)
    members = operation.input_shape.members
    by_option = {xform_name(name).replace("_", "-"): name for name in members}
    params, options, unknown = {}, {}, []
    index = 0
    while index < len(arguments):
        option = arguments[index]
        if not option.startswith("--"):
            unknown.append(option)
            index += 1
            continue
        name = option[2:]
        if name in ("query", "output", "region", "endpoint-url", "profile"):
            options[name] = arguments[index + 1]
            index += 2
            continue
        negated = name.startswith("no-") and by_option.get(name[3:]) and members[by_option[name[3:]]].type_name == "boolean"
        member = by_option.get(name[3:] if negated else name)
        if member is None:
            unknown.append(option)
            index += 1
            continue
        shape = members[member]
        if shape.type_name == "boolean":
            params[member] = not negated
            index += 1
            continue
        value = arguments[index + 1]
        index += 2
        if shape.type_name == "list" and shape.member.type_name == "string" and not value.startswith("["):
            # A list of strings as the AWS CLI takes it: the words up to the next option.
            values = [value]
            while index < len(arguments) and not arguments[index].startswith("--"):
                values.append(arguments[index])
                index += 1
            params[member] = values
        elif shape.type_name in ("structure", "list", "map"):
            try:
                params[member] = json.loads(value)
            except ValueError:
                raise CommandLineError(f"the stand-in reads JSON values only, not {value!r} for {option}")
        elif shape.type_name in ("integer", "long"):
            params[member] = int(value)
        else:
            params[member] = value
    if unknown:
        raise CommandLineError("usage: aws [options] <command> <subcommand> [<subcommand> ...] [parameters]\n"
                               f"aws: error: Unknown options: {', '.join(unknown)}")
    try:
        validate_parameters(params, operation.input_shape)
    except ParamValidationError as error:
        raise CommandLineError(f"\n{error}")
    return params, options


def render(response, options):
    """What the AWS CLI prints for the response with --query and --output."""
    if "query" in options:
        import jmespath
        response = jmespath.search(options["query"], response)
    if options.get("output", "json") != "text":
        return json.dumps(response, indent=4) if response not in (None, {}) else ""
    def text(value):
        if value is None:
            return "None"
        if isinstance(value, list):
            return "\t".join(text(item) for item in value)
        if isinstance(value, dict):
            return "\t".join(text(item) for item in value.values())
        return str(value)
    return text(response)


class Emulator:
    def __init__(self):
        self.accounts = Accounts()
        self.state_path = os.environ["IMGSHIP_EMULATED_STATE"]
        try:
            with open(self.state_path) as file:
                self.state = json.load(file)
        except FileNotFoundError:
            self.state = {"tokens": {}}

    def caller(self):
        """The account of the caller's keys (the script's in_account runs commands with assumed keys)."""
        key = os.environ.get("AWS_ACCESS_KEY_ID", "")
        if key == OWNER_KEY:
            return OWNER_ACCOUNT, None
        credentials = {"aws_access_key_id": key, "aws_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
                       "aws_session_token": os.environ.get("AWS_SESSION_TOKEN")}
        sts = self.accounts.client("sts", "us-east-1", credentials=credentials)
        return sts.get_caller_identity()["Account"], credentials

    def remembered(self, kind, account, region, params, make):
        """The same client token gives the same answer, as EC2's idempotency does."""
        token = params.get("ClientToken")
        key = f"{kind}:{account}:{region}:{token}"
        if token and key in self.state["tokens"]:
            return self.state["tokens"][key]
        response = make()
        if token:
            self.state["tokens"][key] = response
        return response

    def export_image(self, account, credentials, region, params):
        def make():
            location = params["S3ExportLocation"]
            return {"ExportImageTaskId": "export-ami-" + secrets.token_hex(9)[:17], "ImageId": params["ImageId"],
                    "DiskImageFormat": params["DiskImageFormat"], "RoleName": params.get("RoleName", "vmimport"),
                    "S3ExportLocation": location, "Status": "active", "Progress": "0"}
        return self.remembered("export-image", account, region, params, make)

    def import_image(self, account, credentials, region, params):
        """VM Import, as far as it can be checked offline: BootMode one of the model's values other
        than uefi-preferred (which the EC2 API reference says import does not take), each disk's
        Format one of OVA | VHD | VHDX | VMDK | RAW, and its S3 object present in moto's S3 with the
        caller's keys, as the vmimport role would read it."""
        mode = params.get("BootMode")
        allowed = [value for value in self.accounts.session.get_service_model("ec2").operation_model("ImportImage")
                   .input_shape.members["BootMode"].enum if value != "uefi-preferred"]
        if mode is not None and mode not in allowed:
            raise ClientError({"Error": {"Code": "InvalidParameter",
                                         "Message": f"BootMode {mode} is not supported for image import"}}, "ImportImage")
        s3 = self.accounts.client("s3", region, account, credentials)
        for container in params.get("DiskContainers", []):
            if container.get("Format", "").upper() not in ("OVA", "VHD", "VHDX", "VMDK", "RAW"):
                raise ClientError({"Error": {"Code": "InvalidParameter",
                                             "Message": f"Unsupported disk format {container.get('Format')}"}}, "ImportImage")
            bucket = container.get("UserBucket", {})
            try:
                s3.head_object(Bucket=bucket.get("S3Bucket", ""), Key=bucket.get("S3Key", ""))
            except ClientError:
                raise ClientError({"Error": {"Code": "InvalidParameter",
                                             "Message": f"S3 object s3://{bucket.get('S3Bucket')}/{bucket.get('S3Key')} does not exist"}},
                                  "ImportImage")
        return {"ImportTaskId": "import-ami-" + secrets.token_hex(9)[:17], "Status": "active",
                "BootMode": mode or "legacy-bios", "Progress": "2"}

    def import_snapshot(self, account, credentials, region, params):
        """ImportSnapshot (moto 5 does not implement it), as far as it can be checked offline: the
        container's Format one of VHD | VMDK | RAW (the model's SnapshotDiskContainer documentation)
        and its S3 object present in moto's S3 with the caller's keys. The import's result is made
        in moto itself: a volume of the object's size in GiB (rounded up) and a snapshot of it, so
        that register-image, which moto does implement, maps a snapshot moto knows."""
        container = params.get("DiskContainer", {})
        if container.get("Format", "").upper() not in ("VHD", "VMDK", "RAW"):
            raise ClientError({"Error": {"Code": "InvalidParameter",
                                         "Message": f"Unsupported disk format {container.get('Format')}"}}, "ImportSnapshot")
        bucket = container.get("UserBucket", {})
        s3 = self.accounts.client("s3", region, account, credentials)
        try:
            size = s3.head_object(Bucket=bucket.get("S3Bucket", ""), Key=bucket.get("S3Key", ""))["ContentLength"]
        except ClientError:
            raise ClientError({"Error": {"Code": "InvalidParameter",
                                         "Message": f"S3 object s3://{bucket.get('S3Bucket')}/{bucket.get('S3Key')} does not exist"}},
                              "ImportSnapshot")
        ec2 = self.accounts.client("ec2", region, account, credentials)
        volume = ec2.create_volume(Size=max(1, -(-size // (1 << 30))), AvailabilityZone=region + "a")
        snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"], Description="imported by the emulated ImportSnapshot")
        task = "import-snap-" + secrets.token_hex(9)[:17]
        detail = {"Format": container["Format"].upper(), "UserBucket": bucket, "DiskImageSize": float(size),
                  "SnapshotId": snapshot["SnapshotId"], "Status": "completed"}
        self.state.setdefault("snapshot-tasks", {})[task] = detail
        return {"ImportTaskId": task, "SnapshotTaskDetail": {**detail, "SnapshotId": "", "Status": "active", "Progress": "3"}}

    def describe_import_snapshot_tasks(self, account, credentials, region, params):
        """DescribeImportSnapshotTasks (not in moto 5): every task ImportSnapshot started, completed."""
        tasks = self.state.get("snapshot-tasks", {})
        wanted = params.get("ImportTaskIds") or list(tasks)
        for task in wanted:
            if task not in tasks:
                raise ClientError({"Error": {"Code": "InvalidConversionTaskId.Malformed",
                                             "Message": f"The import task id '{task}' does not exist"}}, "DescribeImportSnapshotTasks")
        return {"ImportSnapshotTasks": [{"ImportTaskId": task, "SnapshotTaskDetail": tasks[task]} for task in wanted]}

    def enable_fast_launch(self, account, credentials, region, params):
        return {"ImageId": params["ImageId"], "ResourceType": params.get("ResourceType", "snapshot"),
                "SnapshotConfiguration": params.get("SnapshotConfiguration", {"TargetResourceCount": 5}),
                "LaunchTemplate": params.get("LaunchTemplate", {}), "MaxParallelLaunches": params.get("MaxParallelLaunches", 6),
                "OwnerId": account, "State": "enabling"}

    def update_license_specifications_for_resource(self, account, credentials, region, params):
        """Associations are kept per resource, so a look-up sees what earlier calls associated."""
        licenses = self.state.setdefault("licenses", {}).setdefault(params["ResourceArn"], [])
        for spec in params.get("AddLicenseSpecifications", []):
            if spec["LicenseConfigurationArn"] not in licenses:
                licenses.append(spec["LicenseConfigurationArn"])
        for spec in params.get("RemoveLicenseSpecifications", []):
            if spec["LicenseConfigurationArn"] in licenses:
                licenses.remove(spec["LicenseConfigurationArn"])
        return {}

    def list_license_specifications_for_resource(self, account, credentials, region, params):
        licenses = self.state.get("licenses", {}).get(params["ResourceArn"], [])
        return {"LicenseSpecifications": [{"LicenseConfigurationArn": arn} for arn in licenses]}

    def copy_image(self, account, credentials, region, params):
        """A copy into another account of an AMI the owner shared: EC2 copies it when the owner gave the
        account launch permission on the AMI and create-volume permission on its snapshots. moto looks
        the source up in the caller's own account only, so it is emulated: the sharing is checked
        with the owner's keys, then an AMI of the same name, description and tags is registered in
        the caller's account, which later calls (launch templates, SSM parameters) use as the copy."""
        source_region, source = params["SourceRegion"], params["SourceImageId"]
        def make():
            ec2 = self.accounts.client("ec2", source_region)
            permissions = ec2.describe_image_attribute(ImageId=source, Attribute="launchPermission")["LaunchPermissions"]
            if not any(entry.get("UserId") == account or entry.get("Group") == "all" for entry in permissions):
                raise ClientError({"Error": {"Code": "InvalidAMIID.NotFound",
                                             "Message": f"The image id '[{source}]' does not exist"}}, "CopyImage")
            image = ec2.describe_images(ImageIds=[source])["Images"][0]
            for mapping in image.get("BlockDeviceMappings", []):
                snapshot = mapping.get("Ebs", {}).get("SnapshotId")
                if not snapshot:
                    continue
                volume = ec2.describe_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission")
                if not any(entry.get("UserId") == account for entry in volume.get("CreateVolumePermissions", [])):
                    raise ClientError({"Error": {"Code": "InvalidSnapshot.NotFound",
                                                 "Message": f"The snapshot '{snapshot}' does not exist."}}, "CopyImage")
            target = self.accounts.client("ec2", region, credentials=credentials)
            registered = target.register_image(Name=params["Name"], Description=params.get("Description", ""),
                                               RootDeviceName=image.get("RootDeviceName", "/dev/xvda"))
            tags = [tag for spec in params.get("TagSpecifications", []) if spec.get("ResourceType") == "image"
                    for tag in spec.get("Tags", [])]
            if tags:
                target.create_tags(Resources=[registered["ImageId"]], Tags=tags)
            return {"ImageId": registered["ImageId"]}
        return self.remembered("copy-image", account, region, params, make)

    def run(self, service, operation, arguments):
        model = self.accounts.session.get_service_model(service)
        operation_name = next(name for name in model.operation_names if xform_name(name).replace("_", "-") == operation)
        try:
            params, options = parse(service, operation_name, arguments, model)
        except CommandLineError as error:
            print(str(error), file=sys.stderr)
            return 255 if not str(error).startswith("usage:") else 252
        region = options.get("region") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        account, credentials = self.caller()
        if operation == "copy-image" and account == OWNER_ACCOUNT:
            os.execv(os.environ["IMGSHIP_REAL_AWS"], ["aws", service, operation, *arguments])
        record = {"account": account, "region": region, "service": service, "operation": operation_name, "params": params}
        try:
            response = getattr(self, xform_name(operation_name))(account, credentials, region, params)
        except ClientError as error:
            record["error"] = error.response["Error"]
            self.log(record)
            print(f"\nAn error occurred ({error.response['Error']['Code']}) when calling the {operation_name} operation: "
                  f"{error.response['Error']['Message']}", file=sys.stderr)
            return 255
        record["response"] = response
        self.log(record)
        with open(self.state_path, "w") as file:
            json.dump(self.state, file)
        output = render(response, options)
        if output:
            print(output)
        return 0

    def log(self, record):
        with open(os.environ["IMGSHIP_EMULATED_LOG"], "a") as file:
            file.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["batch"]:
        batch()
    elif sys.argv[1:2] == ["emulate"] and len(sys.argv) >= 4:
        sys.exit(Emulator().run(sys.argv[2], sys.argv[3], sys.argv[4:]))
    else:
        sys.exit("usage: aws_calls.py batch | emulate SERVICE OPERATION [ARGS...]")
