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
    // A parent may start us with these blocked (threads of a test runner do); a blocked
    // Ctrl-C would never reach the handler. Worker threads inherit this mask.
    var interrupts = sigset_t()
    sigemptyset(&interrupts)
    sigaddset(&interrupts, SIGINT)
    sigaddset(&interrupts, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &interrupts, nil)
    // A closed pipe (`| head`) must be a write error we report, not a silent death.
    signal(SIGPIPE, SIG_IGN)
}
