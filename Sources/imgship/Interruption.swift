#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Set by SIGINT/SIGTERM; the export polls it between batches and cleans up.
let interruptRequested = Atomic<Bool>(false)

/// The first Ctrl-C asks the export to stop and remove its temporary files; a second one
/// ends the process at once.
func installInterruptHandlers() {
    let handler: @convention(c) (Int32) -> Void = { signalNumber in
        interruptRequested.store(true, ordering: .relaxed)
        signal(signalNumber, SIG_DFL)
    }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
    // A closed pipe (`| head`) must be a write error we report, not a silent death.
    signal(SIGPIPE, SIG_IGN)
}
