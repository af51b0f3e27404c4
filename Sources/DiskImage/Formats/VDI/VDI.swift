/// VirtualBox Disk Image (VDI), header version 1.1: VirtualBox's `src/VBox/Storage/VDICore.h`
/// (`VDIPREHEADER`, `VDIHEADER1`, `VDIHEADER1PLUS`, block pointers) and `VDI.cpp`
/// (`vdiValidateHeader`, `vdiSetupImageDesc`), and qemu's `block/vdi.c` (`vdi_open`,
/// `vdi_co_preadv`). All integers are little-endian.
///
/// ```
/// 0            64     72                     456/472  offBlocks          offData
/// +------------+------+----------------------+--------+------------------+-----------------------+
/// | file info  | sig  | header 1.1           |  ...   | block map        | blocks, each          |
/// | text (64)  | ver  | (cbHeader 384/400)   |        | u32 per block    | cbBlockExtra + cbBlock|
/// +------------+------+----------------------+--------+------------------+-----------------------+
/// signature 0xbeda107f at 64, version 0x00010001 at 68.
/// Block map entry of virtual block i: the index n of its data block, stored at
/// offData + n * (cbBlockExtra + cbBlock) + cbBlockExtra; 0xFFFFFFFF (free) and 0xFFFFFFFE
/// (zero) are not stored and read as zeros in a standalone image.
/// ```
/// Image types: 1 normal (dynamic: blocks stored as written), 2 fixed (every block stored,
/// in order), 3 undo and 4 differencing (children of a parent image, refused). Blocks are
/// 1 MiB in every image VirtualBox and qemu make; other powers of two are read too.
/// Header: `VDI.Header` (`VDI+Header.swift`); reading: `VDI+Reader.swift`. imgship writes no VDI.
enum VDI {
    /// `VDI_IMAGE_SIGNATURE`, little-endian at offset 64 (what qemu's `vdi_probe` checks).
    static let signature: UInt32 = 0xBEDA_107F
    /// A block map entry for a block never written (`VDI_IMAGE_BLOCK_FREE`).
    static let freeBlock: UInt32 = 0xFFFF_FFFF
    /// A block map entry for a block discarded to zeros (`VDI_IMAGE_BLOCK_ZERO`).
    static let zeroBlock: UInt32 = 0xFFFF_FFFE

    /// Whether `head` (the file's first bytes) carries the VDI signature.
    static func recognises(_ head: [UInt8]) -> Bool {
        head.count >= Header.Offset.signature + 4 && head.loadLittleEndian(UInt32.self, at: Header.Offset.signature) == signature
    }
}
