import ArgumentParser
import ConfigDocument

#if canImport(Glibc)
import Glibc
#endif

/// The `imgship` command and its subcommands; `Sources/imgship` only calls `main()`.
package struct Imgship: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "imgship",
        abstract: "Convert disk images for hypervisors and clouds, with SHA-256 manifests.",
        discussion: """
            Problems are printed on standard error, one line each: `imgship: error: PATH: WHAT`, or \
            FILE:LINE:COLUMN for a position in a configuration or job file. Every command exits with one of:

            \(ExitStatus.helpTable)
            """,
        version: "0.1.0",
        subcommands: [ExportCommand.self, InfoCommand.self, VerifyCommand.self, CheckCommand.self, PlanCommand.self, JobCommand.self])

    package init() {}

    /// Every command writes its output with `writeToStandardOutput`: with SIGPIPE ignored, a
    /// reader that went away (`imgship plan ... | head -1`) is a write error the command
    /// reports and exits 1 on, instead of a death by signal without a word.
    package static func main() {
        signal(SIGPIPE, SIG_IGN)
        let arguments = Array(CommandLine.arguments.dropFirst())
        if PlanCommand.asksForGroupHelp(arguments) {
            print(PlanCommand.groupHelp(columns: terminalColumns()))
            return
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            // A usage error may quote what was typed (`got 'a\e[31mb'`): its lines go through
            // the one display escaper, as every message that quotes a value does. Help, the
            // version and exit codes of their own go the parser's way.
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            guard code != .success, !message.isEmpty else { exit(withError: error) }
            writeToStandardError(DisplayText.escapedLines(message) + "\n")
            exit(withError: code)
        }
    }

    /// The width help texts wrap to: the terminal's, else ArgumentParser's 80.
    private static func terminalColumns() -> Int? {
        var size = winsize()
        guard isatty(STDOUT_FILENO) == 1, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }
}
