import ConfigDocument
import Foundation
import TestSupport
import Testing

@testable import DistributionPlan

/// The `script` rendering: bash accepts every one, and run against stand-in `aws` and `docker`
/// commands it makes the calls of the plan, in order, with the ids the earlier calls returned.
@Suite("Plans as scripts")
struct ScriptTests {
    @Test(arguments: PlanTests.validConfigurations)
    func bashAcceptsTheScript(name: String) throws {
        let folder = try TemporaryFolder()
        let script = folder.file("plan.sh")
        try ScriptRenderer.render(PlanTests.plan(name)).write(toFile: script, atomically: true, encoding: .utf8)
        let result = try runProcess("/bin/bash", ["-n", script])
        #expect(result.status == 0, "\(result.standardError)")
    }

    /// Logs each call with the access key it ran under (the owner's has none) and answers as
    /// the AWS CLI would with `--query ... --output text`: AMI ids are numbered in call order,
    /// nothing exists yet (look-ups find no AMI, no parameter, no license), and the account
    /// in `REFUSE_ACCOUNT` cannot be assumed.
    static let fakeAWS = #"""
        #!/bin/bash
        echo "${AWS_ACCESS_KEY_ID:-owner} $*" >> "$CALL_LOG"
        case "$2" in
          get-caller-identity) echo 123456789012 ;;
          assume-role)
            role=''; previous=''
            for argument; do [[ $previous != --role-arn ]] || role=$argument; previous=$argument; done
            account=${role#arn:aws:iam::}; account=${account%%:*}
            if [[ $account == "${REFUSE_ACCOUNT:-}" ]]; then echo "AccessDenied for $account" >&2; exit 254; fi
            if [[ -n ${EMPTY_CREDENTIALS:-} ]]; then echo; exit 0; fi
            printf 'key-%s\tsecret\ttoken\n' "$account" ;;
          copy-image)
            count=$(( $(cat "$CALL_LOG.amis" 2>/dev/null || echo 0) + 1 )); echo $count > "$CALL_LOG.amis"
            printf 'ami-%017x\n' "$count" ;;
          describe-images)
            case "$*" in
              *--owners*) echo None ;;
              *SnapshotId*) printf 'snap-0001\tsnap-0002\n' ;;
              *) echo available ;;
            esac ;;
          describe-launch-template-versions) printf '6\tami-0ffffffffffffffff\n' ;;
          create-launch-template-version) echo 7 ;;
          get-parameter) echo "ParameterNotFound" >&2; exit 254 ;;
          list-license-specifications-for-resource) echo "" ;;
          export-image) echo export-ami-0123456789abcdef0 ;;
          get-login-password) echo password ;;
        esac
        """#

    static let buildAMI = "ami-0123456789abcdef0"

    static func run(_ plan: Plan, arguments: [String] = [buildAMI], environment: [String: String] = [:]) throws -> (ProcessResult, [String]) {
        let folder = try TemporaryFolder()
        try fakeAWS.write(toFile: folder.file("aws"), atomically: true, encoding: .utf8)
        try "#!/bin/bash\necho \"docker $*\" >> \"$CALL_LOG\"\n[[ $1 != login ]] || cat > /dev/null\n".write(
            toFile: folder.file("docker"), atomically: true, encoding: .utf8)
        for tool in ["aws", "docker"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.file(tool))
        }
        try ScriptRenderer.render(plan).write(toFile: folder.file("plan.sh"), atomically: true, encoding: .utf8)
        var variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        variables["PATH"] = folder.path + ":/usr/bin:/bin"
        variables["CALL_LOG"] = folder.file("calls.log")
        variables["AWS_ACCESS_KEY_ID"] = nil
        let result = try runProcess("/bin/bash", [folder.file("plan.sh")] + arguments, environment: variables)
        let log = (try? String(contentsOfFile: folder.file("calls.log"), encoding: .utf8)) ?? ""
        return (result, log.split(separator: "\n").map(String.init))
    }

    /// The ids the script printed, by task id (`copy-image:eu-west-1: ami-...`).
    static func printedIDs(_ result: ProcessResult) -> [String: String] {
        var ids: [String: String] = [:]
        for line in String(decoding: result.standardOutput, as: UTF8.self).split(separator: "\n") {
            guard let separator = line.range(of: ": ", options: .backwards) else { continue }
            ids[String(line[..<separator.lowerBound])] = String(line[separator.upperBound...])
        }
        return ids
    }

    @Test func crossAccountPlanRunsInOrderWithCapturedIDs() throws {
        let plan = try PlanTests.plan("multi-region-cross-account-kms.json")
        let (result, calls) = try Self.run(plan)
        #expect(result.status == 0, "\(result.standardError)")
        let ids = Self.printedIDs(result)
        let copyID = try #require(ids["copy-image:eu-west-1:333333333333"])
        let copy333 = try #require(calls.first { $0.hasPrefix("key-333333333333 ec2 copy-image --region eu-west-1") })
        #expect(copy333.contains("--source-region us-east-1 --source-image-id \(Self.buildAMI) --name web-app 2026-11-24T09-00-00Z --encrypted"))
        #expect(copy333.contains("--client-token imgship-"))
        // Before copying, the account looks for an AMI of that name it made in an earlier run.
        let lookup = try #require(
            calls.firstIndex {
                $0.hasPrefix("key-333333333333 ec2 describe-images --region eu-west-1 --owners self --filters Name=name,Values=web-app 2026-11-24T09-00-00Z")
            })
        #expect(lookup < calls.firstIndex(of: copy333)!)
        // The template version in account 333333333333 names that account's copy, after it is available.
        let template = try #require(calls.firstIndex { $0.contains("create-launch-template-version") })
        #expect(
            calls[template].hasPrefix(
                "key-333333333333 ec2 create-launch-template-version --region eu-west-1 --launch-template-id lt-0123456789abcdef0 --source-version $Latest --launch-template-data {\"ImageId\":\"\(copyID)\"} --client-token imgship-"
            ))
        let wait = try #require(calls.firstIndex { $0 == "key-333333333333 ec2 wait image-available --region eu-west-1 --image-ids \(copyID)" })
        #expect(wait < template)
        let setDefault = try #require(
            calls.firstIndex(of: "key-333333333333 ec2 modify-launch-template --region eu-west-1 --launch-template-id lt-0123456789abcdef0 --default-version 7")
        )
        #expect(setDefault > template)
        // Target accounts get the build AMI and its snapshots shared before they copy it.
        let share = try #require(
            calls.firstIndex {
                $0 == "owner ec2 modify-image-attribute --region us-east-1 --image-id \(Self.buildAMI) --launch-permission Add=[{UserId=333333333333}]"
            })
        #expect(
            calls[share...].contains(
                "owner ec2 modify-snapshot-attribute --region us-east-1 --snapshot-id snap-0002 --attribute createVolumePermission --operation-type add --user-ids 333333333333"
            ))
        #expect(share < calls.firstIndex(of: copy333)!)
        // The export uses the region's copy; every copy is waited for by the end.
        let sydney = try #require(ids["copy-image:ap-southeast-2"])
        #expect(
            calls.contains {
                $0.hasPrefix("owner ec2 export-image --region ap-southeast-2 --image-id \(sydney) ")
                    && $0.contains("--s3-export-location {\"S3Bucket\":\"exports-syd\",\"S3Prefix\":\"web-app/\"}")
            })
        #expect(calls.last == calls.first { $0.hasPrefix("key-222222222222 ec2 wait image-available --region eu-west-1") })
        #expect(calls.filter { $0.contains(" copy-image ") }.count == plan.totals.byKind[.copyImage])
        #expect(result.standardError.contains("imgship plan: export-image:ap-southeast-2"))
    }

    /// `set -e` does not reach into `$(...)`: without inherit_errexit and the credential
    /// checks, a refused assume-role ran the copy with the owner's credentials.
    @Test func refusedAssumeRoleStopsTheScript() throws {
        let plan = try PlanTests.plan("multi-region-cross-account-kms.json")
        let (result, calls) = try Self.run(plan, environment: ["REFUSE_ACCOUNT": "333333333333"])
        #expect(result.status != 0)
        let refused = try #require(calls.lastIndex { $0.contains("assume-role") && $0.contains("333333333333") })
        #expect(refused == calls.count - 1, "calls after the refused assume-role: \(calls[(refused + 1)...])")
        #expect(!calls.contains { $0.contains("copy-image") && $0.contains("333333333333") })
        #expect(result.standardError.contains("cannot assume arn:aws:iam::333333333333:role/EC2ImageBuilderDistributionCrossAccountRole"))
        #expect(result.standardError.contains("stopped with status 1 in task copy-image:eu-west-1:333333333333"))
        #expect(result.standardError.contains("not done: copy-image:eu-west-1:333333333333"))
        #expect(result.standardError.contains("not done: export-image:ap-southeast-2"))
        #expect(!result.standardError.contains("not done: copy-image:eu-west-1:222222222222"))
    }

    /// Credentials that come back empty are refused as firmly as a refusal.
    @Test func emptyCredentialsStopTheScript() throws {
        let plan = try PlanTests.plan("multi-region-cross-account-kms.json")
        let (result, calls) = try Self.run(plan, environment: ["EMPTY_CREDENTIALS": "1"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("gave no credentials; stopping"))
        let assume = try #require(calls.firstIndex { $0.contains("assume-role") })
        #expect(assume == calls.count - 1)
        #expect(!calls.contains { $0.hasPrefix("key-") })
    }

    @Test func refusesOtherAccountsAndMissingArguments() throws {
        let plan = try PlanTests.plan("organization-sharing.json", PlanContext(sourceRegion: "us-east-1", ownerAccount: "999999999999"))
        let (wrongAccount, calls) = try Self.run(plan)
        #expect(wrongAccount.status == 1)
        #expect(wrongAccount.standardError == "run this with credentials of the owner account 999999999999, not 123456789012\n")
        #expect(calls == ["owner sts get-caller-identity --region us-east-1 --query Account --output text"])
        let (noImage, _) = try Self.run(plan, arguments: [])
        #expect(noImage.status != 0)
        #expect(noImage.standardError.contains("BUILD_AMI_ID (the AMI Image Builder built in the source region)"))
    }

    @Test func containersArePushedWithEachTag() throws {
        let plan = try PlanTests.plan("container.json")
        let (result, calls) = try Self.run(plan, arguments: [], environment: ["CONTAINER_IMAGE": "api:build-42"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(calls.contains("docker tag api:build-42 123456789012.dkr.ecr.us-east-1.amazonaws.com/api-service:1.4.0"))
        #expect(calls.contains("docker push 123456789012.dkr.ecr.us-east-1.amazonaws.com/api-service:1.4.0"))
        #expect(!calls.contains { $0.contains("copy-image") })
    }

    @Test func quotingSurvivesShellMetacharacters() throws {
        let json =
            #"{"name": "quotes", "distributions": [{"region": "us-east-2", "amiDistributionConfiguration": {"name": "app {{ imagebuilder:buildDate }}", "description": "it's $HOME `id` \"quoted\" \\ back", "amiTags": {"Note": "a'b $(x)"}}}]}"#
        let plan = try #require(DistributionPlanner.plan(document: json, context: goldenContext).plan)
        let (result, calls) = try Self.run(plan)
        #expect(result.status == 0, "\(result.standardError)")
        let copy = try #require(calls.first { $0.contains("copy-image") })
        #expect(copy.contains(#"--description it's $HOME `id` "quoted" \ back"#))
        #expect(copy.contains(#"--tag-specifications [{"ResourceType":"image","Tags":[{"Key":"Note","Value":"a'b $(x)"}]}]"#))
    }

    /// Every AWS CLI call a script makes names its region, STS's too: the CLI would otherwise
    /// act in the region of whatever profile runs it.
    @Test(arguments: ["multi-region-cross-account-kms.json", "licenses-launch-templates.json", "container.json"])
    func everyAWSCommandNamesItsRegion(name: String) throws {
        let plan = try PlanTests.plan(name)
        let script = ScriptRenderer.render(plan)
        let calls = script.split(separator: "\n").filter { line in
            let code = line.drop { $0 == " " }
            return !code.hasPrefix("#") && !code.hasPrefix("printf") && line.contains(#/(^|[\s(;"])aws [a-z0-9-]+ [a-z-]+/#)
        }
        #expect(calls.count >= 3)
        for call in calls {
            #expect(call.contains("--region "), "\(call)")
        }
    }
}
