#if canImport(Glibc)
import Glibc
#endif

extension OVA {
    /// Writes the whole package to `context.sink`: the stream-optimized VMDK is exported into
    /// a staged file in `stagingFolder` first (the manifest before it in the archive needs its
    /// digest), then the descriptor, manifest, certificate (when signed) and disk follow one
    /// another in the archive.
    static func writePackage(_ context: ExportContext, stagingFolder: String) throws(DiskImageError) {
        let names = memberNames(forPackage: context.outputName)
        let modificationTime = context.options.timestamp
        for name in [names.ovf, names.manifest, names.certificate, names.disk] where USTAR.header(name: name, size: 0, modificationTime: 0) == nil {
            throw DiskImageError.unsupportedSource(
                path: context.outputName,
                reason: "makes the OVA member name \"\(name)\", longer than the 100 bytes a tar header holds; choose a shorter output name or --name")
        }

        // Mode 0600: a copy of the disk that nobody else needs to read, wherever it is staged.
        OutputSafety.removeStaleTemporaries(in: stagingFolder)
        let staged = try StagedFile(finalPath: stagingFolder + "/" + names.disk, overwrite: true, mode: 0o600, scratch: true)
        defer { staged.discard() }
        // The disk is hashed with the manifest's digest as it is written, so a SHA-1 manifest
        // costs no second read and the SHA-256 default no extra digest.
        let digest = context.options.machine.manifestDigest
        let diskSink = OutputSink(descriptor: staged.descriptor, path: staged.temporaryPath, digest: digest.algorithm)
        let diskContext = ExportContext(
            source: context.source, virtualSize: context.virtualSize, sink: diskSink,
            options: context.options, workerCount: context.workerCount, outputName: names.disk)
        try VMDK.writeStreamOptimized(diskContext)
        // The package manifest needs the member's digest even with `--no-manifest`; a hashing
        // sink always gives one.
        let diskDigest = try diskSink.finish() ?? ""
        let diskSize = diskSink.position

        let machineName = String(names.disk.dropLast(5))
        let descriptor = Array(
            OVA.descriptor(
                machineName: machineName, diskFile: names.disk, diskFileSize: diskSize,
                capacity: context.virtualSize, adapter: context.options.adapter,
                settings: context.options.machine
            ).utf8)
        let descriptorDigest = MessageDigestHasher.hex(descriptor, digest.algorithm)
        let manifest = Array(
            (manifestLine(name: names.ovf, digest: descriptorDigest, algorithm: digest)
                + manifestLine(name: names.disk, digest: diskDigest, algorithm: digest)).utf8)
        // DSP0243 (OVF 2.x section 5.3): the manifest and certificate either both follow the
        // descriptor or both end the archive. They follow it here, as the manifest always
        // has, so a reader finds the signature before the disk streams past.
        var members = [(names.ovf, descriptor), (names.manifest, manifest)]
        if let signer = context.options.signer {
            members.append((names.certificate, try signer.certificateFile(manifest: manifest, manifestName: names.manifest, digest: digest)))
        }

        let sink = context.sink
        func memberHeader(_ name: String, size: UInt64) throws(DiskImageError) -> [UInt8] {
            guard let header = USTAR.header(name: name, size: size, modificationTime: modificationTime) else {
                throw DiskImageError.unsupportedSource(
                    path: context.outputName, reason: "makes the OVA member name \"\(name)\", longer than a tar header holds")
            }
            return header
        }
        for (name, content) in members {
            try sink.write(try memberHeader(name, size: UInt64(content.count)))
            try sink.write(content)
            try sink.write([UInt8](repeating: 0, count: USTAR.padding(after: UInt64(content.count))))
        }
        try sink.write(try memberHeader(names.disk, size: diskSize))
        let chunk = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        let disk = try SourceImage(path: staged.temporaryPath)
        var offset: UInt64 = 0
        while offset < diskSize {
            let length = Int(min(UInt64(chunk), diskSize - offset))
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
            try disk.readExactly(into: part, at: offset)
            try sink.write(UnsafeRawBufferPointer(part))
            offset += UInt64(length)
            if context.options.isCancelled() { throw DiskImageError.cancelled }
        }
        // The member's padding, then two zero blocks that end the archive.
        try sink.write([UInt8](repeating: 0, count: USTAR.padding(after: diskSize) + 2 * USTAR.blockSize))
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        MessageDigestHasher.hex(bytes, .sha256)
    }
}
