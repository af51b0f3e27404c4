import ArgumentParser

@testable import ImgshipCommands

/// `imgship`'s command line read in this process: what the binary does before running a
/// command, for tests that need no real process (no signals, terminal or pipes).
enum InProcess {
    /// The command line parsed and validated: status 0 and no text when accepted; otherwise
    /// the exit status and the standard error text `imgship` prints for it. A refused command
    /// line runs nothing, so standard output stays empty.
    static func parse(_ arguments: [String]) -> (status: Int32, standardOutput: String, standardError: String) {
        do {
            _ = try Imgship.parseAsRoot(arguments)
            return (0, "", "")
        } catch {
            return (Imgship.exitCode(for: error).rawValue, "", Imgship.fullMessage(for: error))
        }
    }

    /// The `--help` text, as the binary prints it into a pipe (80 columns).
    static func help(_ command: (any ParsableCommand.Type)? = nil) -> String {
        command.map { Imgship.helpMessage(for: $0, columns: 80) } ?? Imgship.helpMessage(columns: 80)
    }
}
