#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

/// The `imgship` command and its subcommands; `Sources/imgship` only calls `main()`.
public struct Imgship: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "imgship",
        abstract: "Convert disk images for hypervisors and clouds, with SHA-256 manifests.",
        version: "0.1.0",
        subcommands: [ExportCommand.self, InfoCommand.self, VerifyCommand.self, CheckCommand.self, PlanCommand.self, JobCommand.self])

    public init() {}

    /// Every command writes its output with `writeToStandardOutput`: with SIGPIPE ignored, a
    /// reader that went away (`imgship plan ... | head -1`) is a write error the command
    /// reports and exits 1 on, instead of a death by signal without a word.
    public static func main() {
        signal(SIGPIPE, SIG_IGN)
        main(nil)
    }
}
