import ArgumentParser

@main
struct Imgship: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imgship",
        abstract: "Convert disk images for hypervisors and clouds, with SHA-256 manifests.",
        version: "0.1.0",
        subcommands: [ExportCommand.self, InfoCommand.self, VerifyCommand.self, PlanCommand.self, JobCommand.self])
}
