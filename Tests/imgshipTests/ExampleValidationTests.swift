import DiskImage
import ExportJob
import Foundation
import TestSupport
import Testing

/// The fleet examples are validated by the platforms' own schemas, not just parsed: the
/// Kubernetes manifests by kubernetes-validate (the Kubernetes OpenAPI schemas, strict: no
/// unknown field) for a stated Kubernetes version, and the AWS Batch request bodies by
/// botocore's Batch service model (the validator the AWS CLI runs before it sends a request).
@Suite("Fleet examples, validated")
struct ExampleValidationTests {
    static let examples = ShardedJobTests.examples
    /// The Kubernetes release the manifests are written for (Indexed Jobs with
    /// backoffLimitPerIndex are GA from 1.33); README's fleet section says the same.
    static let kubernetesVersion = "1.34.0"

    /// Each Batch example and the operation whose request it is.
    static let batchRequests = [
        ("aws-batch/job-definition.json", "RegisterJobDefinition"),
        ("aws-batch/submit-job.json", "SubmitJob"),
        ("aws-batch/submit-merge.json", "SubmitJob"),
    ]

    /// Validates each (file, operation) against botocore's model: prints `ok FILE` or
    /// `invalid FILE: REASON`, and exits 1 when any is invalid.
    static let botocoreValidator = """
        import json, sys
        import botocore.session
        from botocore.validate import ParamValidator
        model = botocore.session.get_session().get_service_model("batch")
        failed = False
        for path, operation in zip(sys.argv[1::2], sys.argv[2::2]):
            with open(path) as f:
                body = json.load(f)
            report = ParamValidator().validate(body, model.operation_model(operation).input_shape)
            if report.has_errors():
                failed = True
                print("invalid %s: %s" % (path, report.generate_report().replace("\\n", " ")))
            else:
                print("ok %s" % path)
        sys.exit(1 if failed else 0)
        """

    /// examples/job.yaml reads as a job (no problem, every output distinct), names every
    /// target imgship has, and `imgship job --dry-run` accepts it: only its absent image fails.
    @Test func jobExampleIsAJobForEveryTarget() throws {
        let path = Self.examples + "/job.yaml"
        let job = try JobFile.decode(try String(contentsOfFile: path, encoding: .utf8))
        _ = try job.units(baseFolder: Self.examples)
        let named = Set(job.exports.compactMap { $0.options.target?.description.split(separator: ":").first.map(String.init) })
        #expect(named == Set(ExportTarget.names.map { String($0.prefix { $0 != "[" }) }))
        let dryRun = try runProcess(ExportCommandTests.binary, ["job", path, "--dry-run", "--json"])
        let intents = try #require(try JSONSerialization.jsonObject(with: dryRun.standardOutput) as? [[String: Any]])
        #expect(intents.count == job.exports.count)
        #expect(intents.allSatisfy { $0["action"] as? String == "fail: the source does not exist" }, "\(intents)")
    }

    @Test func kubernetesManifestsPassTheSchema() throws {
        let validator = try MotoServer.require("kubernetes-validate")
        let manifests = ["kubernetes/indexed-job.yaml", "kubernetes/merge-job.yaml"].map { Self.examples + "/" + $0 }
        let result = try runProcess(validator, ["--kubernetes-version", Self.kubernetesVersion, "--strict"] + manifests)
        let output = String(decoding: result.standardOutput, as: UTF8.self) + result.standardError
        #expect(result.status == 0, "\(output)")
        for manifest in manifests {
            #expect(output.contains("\(manifest) passed"), "\(output)")
        }
    }

    /// The validator is live: a field Kubernetes does not have is refused in strict mode.
    @Test func kubernetesValidatorRefusesAnUnknownField() throws {
        let validator = try MotoServer.require("kubernetes-validate")
        let folder = try TemporaryFolder()
        let manifest = try String(contentsOfFile: Self.examples + "/kubernetes/indexed-job.yaml", encoding: .utf8)
        let broken = manifest.replacingOccurrences(of: "completionMode:", with: "completionMod:")
        #expect(broken != manifest)
        try broken.write(toFile: folder.file("job.yaml"), atomically: true, encoding: .utf8)
        let result = try runProcess(validator, ["--kubernetes-version", Self.kubernetesVersion, "--strict", folder.file("job.yaml")])
        #expect(result.status != 0)
    }

    @Test func batchRequestsPassBotocoresModel() throws {
        let python = try MotoServer.require("python3")
        let arguments = Self.batchRequests.flatMap { [Self.examples + "/" + $0.0, $0.1] }
        let result = try runProcess(python, ["-c", Self.botocoreValidator] + arguments)
        let output = String(decoding: result.standardOutput, as: UTF8.self)
        #expect(result.status == 0, "\(output)\(result.standardError)")
        for (file, _) in Self.batchRequests {
            #expect(output.contains("ok \(Self.examples)/\(file)"), "\(output)")
        }
    }

    /// The validator is live: a resource requirement of a type Batch does not have is refused.
    @Test func botocoreRefusesABrokenJobDefinition() throws {
        let python = try MotoServer.require("python3")
        let folder = try TemporaryFolder()
        let definition = try String(contentsOfFile: Self.examples + "/aws-batch/job-definition.json", encoding: .utf8)
        let broken = definition.replacingOccurrences(of: "\"resourceRequirements\"", with: "\"resourceRequirement\"")
        #expect(broken != definition)
        try broken.write(toFile: folder.file("definition.json"), atomically: true, encoding: .utf8)
        let result = try runProcess(python, ["-c", Self.botocoreValidator, folder.file("definition.json"), "RegisterJobDefinition"])
        #expect(result.status == 1)
        #expect(String(decoding: result.standardOutput, as: UTF8.self).contains("resourceRequirement"))
    }
}
