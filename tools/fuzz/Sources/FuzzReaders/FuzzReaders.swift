import ConfigDocument
import DiskImage
import DistributionPlan
import ExportJob

#if canImport(Glibc)
import Glibc
#endif

/// One libFuzzer entry for every reader: the format to read comes from IMGSHIP_FUZZ_FORMAT,
/// so each reader is fuzzed on its own with its own corpus.
///
/// - Images (raw, vhd, vhdx, vmdk, qcow2, vdi, ova, gce): the input is written to a file in /dev/shm because
///   the readers read files, then opened (every table checked) and verified (every cluster
///   read and inflated).
/// - guest: the input is a raw disk, opened as one: what is fuzzed is the inspection of its
///   boot structures (MBR, GPT and its CRC32s, the EFI system partition's FAT) that every
///   open makes.
/// - Configuration files (json, yaml): the input's bytes pass DocumentText's checks, then the
///   JSON parser or the YAML reader, then the whole planner (and its three renderers when a
///   plan comes out) and the job file reader, which read either syntax.
///
/// - VMDK text descriptors (descriptor): the input is written as `disk.vmdk` in a folder that
///   holds a real flat extent, a FIFO, a symbolic link to a file outside the folder and a
///   subfolder, so the descriptor parser and the extent rules (inside the folder, regular
///   files only, no byte of a file read twice) meet every kind of name.
///
/// Errors are the expected outcome; a crash, a hang or a leak is a finding.
nonisolated(unsafe) private var format: SourceFormat?
nonisolated(unsafe) private var syntax: Syntax?
nonisolated(unsafe) private var inputPath = ""
nonisolated(unsafe) private var descriptorMode = false

private enum Syntax: String {
    case json, yaml
}

/// SwiftPM links an executable with `main` aliased to `<Module>_main`, which a library-parsed
/// module never defines; this one hands the command line to libFuzzer's own driver.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ testOneInput: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

@_cdecl("FuzzReaders_main")
public func fuzzReadersMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, testOneInput)
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>) -> Int32 {
    if let name = getenv("IMGSHIP_FUZZ_FORMAT") {
        format = String(cString: name) == "guest" ? .raw : SourceFormat(rawValue: String(cString: name))
        syntax = Syntax(rawValue: String(cString: name))
    }
    inputPath = "/dev/shm/imgship-fuzz-\(getpid())"
    if let name = getenv("IMGSHIP_FUZZ_FORMAT"), String(cString: name) == "descriptor" {
        descriptorMode = true
        format = .vmdk
        inputPath = makeDescriptorFolder() + "/disk.vmdk"
    }
    return 0
}

/// The folder a fuzzed descriptor lives in: `flat.bin` (64 KiB, some data), `sub/inner.bin`,
/// a FIFO `pipe` with no writer, and `outside`, a link to /etc/hostname.
private func makeDescriptorFolder() -> String {
    let folder = "/dev/shm/imgship-fuzz-descriptor-\(getpid())"
    mkdir(folder, 0o700)
    mkdir(folder + "/sub", 0o700)
    for (name, size) in [("flat.bin", 65536), ("sub/inner.bin", 4096)] {
        let descriptor = open(folder + "/" + name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { continue }
        var bytes = [UInt8](repeating: 0, count: size)
        for index in stride(from: 0, to: size, by: 97) { bytes[index] = UInt8(truncatingIfNeeded: index) }
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, size) }
        close(descriptor)
    }
    mkfifo(folder + "/pipe", 0o600)
    symlink("/etc/hostname", folder + "/outside")
    return folder
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    if let syntax {
        readConfiguration(Array(UnsafeBufferPointer(start: data, count: size)), as: syntax)
        return 0
    }
    let descriptor = open(inputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { return 0 }
    var written = 0
    while written < size {
        let count = write(descriptor, data + written, size - written)
        if count <= 0 { break }
        written += count
    }
    close(descriptor)
    _ = try? ImageVerifier.verify(path: inputPath, format: format)
    if descriptorMode {
        // The descriptor is read without the folder rule too: the file-type rule must still hold.
        _ = try? ImageVerifier.verify(path: inputPath, format: format, allowExternalExtents: true)
    }
    return 0
}

private func readConfiguration(_ bytes: [UInt8], as syntax: Syntax) {
    guard let text = try? DocumentText.decode(bytes) else { return }
    switch syntax {
    case .json: _ = try? JSONParser.parse(text)
    case .yaml: _ = try? YAMLReader.parse(text)
    }
    let context = PlanContext(sourceRegion: "us-east-1", ownerAccount: "123456789012", buildDate: "2026-11-24T09-00-00Z")
    let outcome = DistributionPlanner.plan(document: text, context: context)
    if let plan = outcome.plan {
        _ = TextRenderer.render(plan)
        _ = JSONRenderer.render(plan)
        _ = ScriptRenderer.render(plan)
    }
    if let job = try? JobFile.decode(text) {
        _ = try? job.units(baseFolder: "/fuzz")
        _ = job.json()
    }
}
