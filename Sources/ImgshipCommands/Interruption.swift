import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The signals that stop a command cleanly (exit 130, temporary files removed): Ctrl-C, `kill`,
/// and the terminal closing (SIGHUP), which would otherwise kill an export over ssh with its
/// temporary output left behind.
let interruptingSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

/// Set by any of `interruptingSignals`; the export polls it between batches and cleans up.
let interruptRequested = Atomic<Bool>(false)

/// The first Ctrl-C asks the export to stop and remove its temporary files; a second one
/// ends the process at once.
func installInterruptHandlers() {
    let handler: @convention(c) (Int32) -> Void = { signalNumber in
        interruptRequested.store(true, ordering: .relaxed)
        signal(signalNumber, SIG_DFL)
    }
    handleInterruptingSignals(with: handler)
    // A closed pipe (`| head`) must be a write error we report, not a silent death.
    signal(SIGPIPE, SIG_IGN)
}

/// For commands that write nothing (`info`, `verify`): any of `interruptingSignals` ends the
/// process at once with status 130, the table's, rather than death by the signal (which a
/// shell reports as 129 for SIGHUP and 143 for SIGTERM). `_exit` is async-signal-safe.
func exitOnInterrupt() {
    handleInterruptingSignals(with: { _ in _exit(130) })
}

private func handleInterruptingSignals(with handler: @convention(c) (Int32) -> Void) {
    // A parent may start us with these blocked (threads of a test runner do); a blocked
    // Ctrl-C would never reach the handler. Worker threads inherit this mask.
    var interrupts = sigset_t()
    sigemptyset(&interrupts)
    for signalNumber in interruptingSignals {
        signal(signalNumber, handler)
        sigaddset(&interrupts, signalNumber)
    }
    pthread_sigmask(SIG_UNBLOCK, &interrupts, nil)
}
