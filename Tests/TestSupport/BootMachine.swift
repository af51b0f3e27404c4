import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a boot under qemu-system showed on the serial port.
public struct BootResult: Sendable, CustomStringConvertible {
    public enum Outcome: Sendable, Equatable {
        /// The initramfs printed the marker with the firmware the kernel saw.
        case booted(BootDisk.Firmware)
        /// A line that means the boot cannot go on (an OVMF shell, a loader error, a panic).
        case failed(String)
        /// SeaBIOS started sector 0's code, and no loader banner came within `seconds`: code
        /// that hangs or wanders (all zeros, say). syslinux prints its banner at once.
        case stalled(seconds: Int)
        case timedOut(seconds: Int)
        /// qemu ended by itself without the marker.
        case exited(Int32)
    }

    public var outcome: Outcome
    /// The serial output, escape sequences and carriage returns removed.
    public var serial: String
    public var seconds: Double

    /// The last lines of the serial output, for a failure message.
    public var lastLines: String { serial.split(separator: "\n").suffix(12).joined(separator: "\n") }

    public var description: String {
        let what =
            switch outcome {
            case let .booted(firmware): "printed the marker (firmware=\(firmware.rawValue))"
            case let .failed(line): "failed: \(line.debugDescription)"
            case let .stalled(seconds): "stalled: no loader started within \(seconds) s of SeaBIOS running sector 0's code"
            case let .timedOut(seconds): "no marker within \(seconds) s"
            case let .exited(status): "qemu exited with status \(status) and no marker"
            }
        return String(format: "%@ after %.1f s; last serial lines:\n%@", what, seconds, lastLines)
    }
}

extension BootDisk {
    /// Lines that end a boot at once: OVMF's shell (it found nothing to boot), SeaBIOS finding
    /// nothing, the MBR codes' and syslinux's own errors, a kernel panic.
    static let failureLines = [
        "UEFI Interactive Shell", "Shell>", "No bootable device", "Boot failed", "Missing operating system",
        "Operating system load error", "Missing OS", "Boot error", "Could not find kernel image", "Failed to load",
        "Invalid partition table", "Kernel panic",
    ]

    /// SeaBIOS's last line before it jumps to sector 0's code.
    static let handOff = "Booting from Hard Disk..."
    /// What the BIOS loader on every boot disk here (syslinux's ldlinux.sys) prints first.
    static let loaderBanner = "SYSLINUX "
    /// How long after `handOff` the banner may take: a few hundred ms on a busy 2-core host.
    static let handOffLimit: Double = 10

    /// Boots `image` (opened with qemu's `driver`: raw, vpc, vmdk, vhdx ...) as a virtio disk
    /// under `firmware`, with TCG, and watches the serial port until the marker appears, a
    /// failure line does, sector 0's code stalls, or `timeLimit` seconds pass. At most two
    /// machines run at once in a test process.
    public static func boot(_ image: String, driver: String, firmware: Firmware, timeLimit: Double = 90) async throws -> BootResult {
        let result = try await slots.withSlot {
            try await run(image, driver: driver, firmware: firmware, timeLimit: timeLimit)
        }
        // IMGSHIP_BOOT_LOG=1: one line a boot on standard error, to see where the suite's time goes.
        if ProcessInfo.processInfo.environment["IMGSHIP_BOOT_LOG"] != nil {
            let line = String(format: "boot %@ (%@) under %@: %.1f s, %@\n", image, driver, firmware.description, result.seconds, "\(result.outcome)")
            FileHandle.standardError.write(Data(line.utf8))
        }
        return result
    }

    /// Boots `image` under `firmware` and throws, with the serial port's last lines, unless the
    /// guest printed the marker saying it was started by that firmware. Each output format of
    /// the boot suite is one call of this.
    public static func bootCheck(image: String, driver: String, firmware: Firmware, what: String) async throws {
        let result = try await boot(image, driver: driver, firmware: firmware)
        guard result.outcome == .booted(firmware) else {
            throw BootError("\(what) under \(firmware) (\(firmware.rawValue)): \(result)")
        }
    }

    private static let slots = BootSlots(count: 2)

    private static func run(_ image: String, driver: String, firmware: Firmware, timeLimit: Double) async throws
        -> BootResult
    {
        let folder = try TemporaryFolder()
        let log = folder.file("serial.log")
        var arguments = [
            // -nodefaults: no network card (no iPXE ROM to wait for), no CD-ROM for OVMF to try
            // first. -nographic without a display makes SeaBIOS print on the serial port too
            // (its serial console), so MBR code errors are seen.
            "-nodefaults", "-nographic", "-serial", "stdio", "-monitor", "none", "-accel", "tcg", "-m", "256", "-no-reboot",
            // virtio-blk: SeaBIOS and OVMF hand qemu a loader's whole read at once, where IDE
            // PIO reads a sector a request (and a stream-optimized VMDK inflates a 64 KiB grain
            // for each: 3 to 5 times slower). snapshot=on: the guest's writes go to a temporary
            // overlay, never to the image tested.
            "-drive", "file=\(image),format=\(driver),if=virtio,snapshot=on",
        ]
        if firmware == .efi {
            // OVMF writes its boot entries into the variable store: each boot its own copy.
            let variables = folder.file("OVMF_VARS.fd")
            try FileManager.default.copyItem(atPath: ovmfVariables, toPath: variables)
            arguments += [
                "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=\(ovmfCode)",
                "-drive", "if=pflash,format=raw,unit=1,file=\(variables)",
            ]
        }
        guard let qemu = which("qemu-system-x86_64") else { throw BootError("qemu-system-x86_64 is not installed") }
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: qemu)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        let start = Date()
        try process.run()

        var outcome: BootResult.Outcome?
        var serial = ""
        var size = 0
        var handedOff: Date?
        while outcome == nil {
            let running = process.isRunning
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: log))) ?? Data()
            if bytes.count != size {
                size = bytes.count
                serial = cleaned(bytes)
                if handedOff == nil, serial.contains(handOff) { handedOff = Date() }
            }
            outcome = verdict(serial)
            if outcome != nil || !running { break }
            let now = Date()
            if now.timeIntervalSince(start) > timeLimit {
                outcome = .timedOut(seconds: Int(timeLimit))
            } else if let handedOff, now.timeIntervalSince(handedOff) > handOffLimit, !serial.contains(loaderBanner) {
                outcome = .stalled(seconds: Int(handOffLimit))
            } else {
                try? await Task.sleep(nanoseconds: 200_000_000)
            }
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return BootResult(
            outcome: outcome ?? .exited(process.terminationStatus), serial: serial, seconds: Date().timeIntervalSince(start))
    }

    /// The marker decides first: a boot that printed it succeeded, whatever came before.
    public static func verdict(_ serial: String) -> BootResult.Outcome? {
        if let range = serial.range(of: marker) {
            let value = serial[range.upperBound...].prefix { $0.isLetter }
            if let firmware = Firmware(rawValue: String(value)) { return .booted(firmware) }
        }
        for line in serial.split(separator: "\n") {
            if let failure = failureLines.first(where: { line.contains($0) }) { return .failed(failure + ": " + line) }
            // syslinux's prompt: it found no configuration or no kernel to boot.
            if line.hasPrefix("boot:") { return .failed(String(line)) }
        }
        return nil
    }

    /// The serial bytes as text without ANSI escape sequences (OVMF and SeaBIOS draw with
    /// them) or carriage returns.
    public static func cleaned(_ bytes: Data) -> String {
        var text = ""
        var escape = false
        for character in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            if escape {
                // ESC [ parameters final-byte, or ESC and one character (ESC c resets).
                if character != "[" && (character.value >= 0x40 && character.value <= 0x7E) { escape = false }
                continue
            }
            switch character {
            case "\u{1B}": escape = true
            case "\r": continue
            default: text.unicodeScalars.append(character)
            }
        }
        return text
    }
}

/// A counting semaphore for async code: boots wait here without holding a thread.
public actor BootSlots {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(count: Int) { free = count }

    /// Runs `body` once a slot is free, and frees it after.
    public nonisolated func withSlot<Value>(_ body: () async throws -> Value) async throws -> Value {
        await acquire()
        do {
            let value = try await body()
            await release()
            return value
        } catch {
            await release()
            throw error
        }
    }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
