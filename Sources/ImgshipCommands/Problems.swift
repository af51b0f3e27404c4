import ArgumentParser
import ConfigDocument

/// How serious a printed problem is.
enum ProblemSeverity: String {
    case error
    case warning
}

/// Prints one problem on standard error in the form every command uses,
/// `imgship: error: <user path>: <what>` (the path leads the problem's own text: see
/// `DiskImageError.description` and `CommandProblem`). Errors stay typed until they get here.
/// The text goes through the one display escaper (`DisplayText`): a problem quotes values
/// from files, and stays one line that drives no terminal whatever they hold.
func printProblem(_ severity: ProblemSeverity, _ problem: some CustomStringConvertible) {
    writeToStandardError("imgship: \(severity.rawValue): \(DisplayText.escaped(problem.description))\n")
}

/// Prints `failure` once and gives the exit code it maps to: `throw fail(error)`.
func fail(_ failure: some CommandFailure) -> ExitCode {
    printProblem(.error, failure)
    return failure.exitStatus.exitCode
}

/// Prints the problems of configuration documents, each where it is, in the form compilers
/// use so editors can jump to it: `file:line:column: severity: path: message`. A problem
/// without a file of its own (`Problem.file`) is `mainDocument`'s.
func printDocumentProblems(_ problems: [Problem], in mainDocument: String) {
    for problem in problems {
        let position = problem.line.map { ":\($0):\(problem.column ?? 1)" } ?? ""
        let file = DisplayText.escaped(problem.file ?? mainDocument)
        writeToStandardError("\(file)\(position): \(problem.severity.rawValue): \(DisplayText.escaped(problem.description))\n")
    }
}
