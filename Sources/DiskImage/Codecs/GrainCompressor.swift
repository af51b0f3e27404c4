internal import CDeflate
internal import CISAL

/// Compresses one buffer into one DEFLATE stream: zlib-wrapped (RFC 1950: `78 xx` header,
/// deflate, Adler-32) as stream-optimized VMDK readers (`uncompress()` in qemu, VMware,
/// VirtualBox) expect, raw (RFC 1951) as qcow2's compressed clusters are stored, or one gzip
/// member (RFC 1952: header, deflate, CRC-32 and length), which a GCE image's gzip stream is
/// made of. One instance per worker thread: the C contexts inside are not shareable.
final class GrainCompressor {
    /// The wrapping of the stream.
    enum Framing: Sendable {
        /// RFC 1950: VMDK grains.
        case zlib
        /// RFC 1951, no header or trailer: qcow2 compression type 0 (qemu's
        /// block/qcow2-threads.c inflates it with `inflateInit2(-12)`, raw DEFLATE).
        case deflate
        /// RFC 1952: a whole gzip member; members concatenated are one gzip file.
        case gzip

        /// The framing argument of the ISA-L shim (Sources/CISAL/shim.h).
        var isalFraming: Int32 {
            switch self {
            case .zlib: 0
            case .deflate: 1
            case .gzip: 2
            }
        }
    }

    let level: DeflateLevel
    let framing: Framing
    private let deflater: OpaquePointer
    private let isalStream: UnsafeMutablePointer<isal_zstream>?
    private let isalLevelBuffer: UnsafeMutableRawBufferPointer?

    init(level: DeflateLevel, framing: Framing = .zlib) {
        self.level = level
        self.framing = framing
        let deflateLevel: Int32
        switch level {
        case .fast:
            // libdeflate level 1 stays as the fallback for buffers ISA-L's stateless mode
            // cannot fit in the bound (incompressible data).
            deflateLevel = 1
            let stream = UnsafeMutablePointer<isal_zstream>.allocate(capacity: 1)
            stream.initialize(to: isal_zstream())
            isalStream = stream
            isalLevelBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: imgship_isal_level1_buffer_size(), alignment: 64)
        case let .libdeflate(number):
            deflateLevel = Int32(number)
            isalStream = nil
            isalLevelBuffer = nil
        }
        guard let compressor = libdeflate_alloc_compressor(deflateLevel) else {
            fatalError("libdeflate_alloc_compressor(\(deflateLevel)) failed: out of memory")
        }
        deflater = compressor
    }

    deinit {
        libdeflate_free_compressor(deflater)
        isalStream?.deallocate()
        isalLevelBuffer?.deallocate()
    }

    /// The most bytes `compress` can produce for `inputSize` bytes.
    func bound(forInputSize inputSize: Int) -> Int {
        switch framing {
        case .zlib: libdeflate_zlib_compress_bound(deflater, inputSize)
        case .deflate: libdeflate_deflate_compress_bound(deflater, inputSize)
        case .gzip: libdeflate_gzip_compress_bound(deflater, inputSize)
        }
    }

    /// Compresses `input` into `output` and returns the compressed size; nil when it does not
    /// fit `output` (always fits with `bound(forInputSize:)` bytes).
    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        if let isalStream, let isalLevelBuffer {
            // swift-format-ignore: NeverForceUnwrap
            let size = imgship_isal_zlib_compress(
                isalStream,
                isalLevelBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self), isalLevelBuffer.count,
                input.baseAddress!.assumingMemoryBound(to: UInt8.self), input.count,
                output.baseAddress!.assumingMemoryBound(to: UInt8.self), output.count, framing.isalFraming)
            if size > 0 { return size }
        }
        let size =
            switch framing {
            case .zlib: libdeflate_zlib_compress(deflater, input.baseAddress, input.count, output.baseAddress, output.count)
            case .deflate: libdeflate_deflate_compress(deflater, input.baseAddress, input.count, output.baseAddress, output.count)
            case .gzip: libdeflate_gzip_compress(deflater, input.baseAddress, input.count, output.baseAddress, output.count)
            }
        return size > 0 ? size : nil
    }
}
