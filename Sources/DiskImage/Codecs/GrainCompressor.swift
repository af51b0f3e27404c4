internal import CDeflate
internal import CISAL

/// Compresses one buffer into one zlib stream (RFC 1950: `78 xx` header, deflate, Adler-32),
/// which is what stream-optimized VMDK readers (`uncompress()` in qemu, VMware, VirtualBox)
/// expect, or into one gzip member (RFC 1952: header, deflate, CRC-32 and length), which a
/// GCE image's gzip stream is made of. One instance per worker thread: the C contexts inside
/// are not shareable.
final class GrainCompressor {
    /// The wrapper around the deflate data.
    enum Container {
        /// RFC 1950, what VMDK grains hold.
        case zlib
        /// RFC 1952: a whole gzip member; members concatenated are one gzip file.
        case gzip
    }

    let level: DeflateLevel
    let container: Container
    private let deflater: OpaquePointer
    private let isalStream: UnsafeMutablePointer<isal_zstream>?
    private let isalLevelBuffer: UnsafeMutableRawBufferPointer?

    init(level: DeflateLevel, container: Container = .zlib) {
        self.level = level
        self.container = container
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
        switch container {
        case .zlib: libdeflate_zlib_compress_bound(deflater, inputSize)
        case .gzip: libdeflate_gzip_compress_bound(deflater, inputSize)
        }
    }

    /// Compresses `input` into `output` (at least `bound(forInputSize:)` bytes) and returns the
    /// compressed size.
    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        if let isalStream, let isalLevelBuffer {
            // swift-format-ignore: NeverForceUnwrap
            let size = imgship_isal_zlib_compress(
                isalStream,
                isalLevelBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self), isalLevelBuffer.count,
                input.baseAddress!.assumingMemoryBound(to: UInt8.self), input.count,
                output.baseAddress!.assumingMemoryBound(to: UInt8.self), output.count, container == .gzip ? 1 : 0)
            if size > 0 { return size }
        }
        let size =
            switch container {
            case .zlib: libdeflate_zlib_compress(deflater, input.baseAddress, input.count, output.baseAddress, output.count)
            case .gzip: libdeflate_gzip_compress(deflater, input.baseAddress, input.count, output.baseAddress, output.count)
            }
        return size > 0 ? size : nil
    }
}
