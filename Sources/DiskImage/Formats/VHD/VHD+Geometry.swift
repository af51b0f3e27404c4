extension VHD {
    /// Cylinder/head/sector geometry stored in the footer, computed with the algorithm in the
    /// spec's appendix "CHS Calculation".
    struct Geometry: Equatable, Sendable {
        var cylinders: UInt16
        var heads: UInt8
        var sectorsPerTrack: UInt8

        init(cylinders: UInt16, heads: UInt8, sectorsPerTrack: UInt8) {
            self.cylinders = cylinders
            self.heads = heads
            self.sectorsPerTrack = sectorsPerTrack
        }

        /// The geometry the spec assigns to a disk of `totalSectors` 512-byte sectors.
        init(totalSectors requested: UInt64) {
            let totalSectors = min(requested, 65535 * 16 * 255)
            var sectorsPerTrack: UInt64
            var heads: UInt64
            var cylinderTimesHeads: UInt64
            if totalSectors >= 65535 * 16 * 63 {
                sectorsPerTrack = 255
                heads = 16
                cylinderTimesHeads = totalSectors / sectorsPerTrack
            } else {
                sectorsPerTrack = 17
                cylinderTimesHeads = totalSectors / sectorsPerTrack
                heads = max(4, (cylinderTimesHeads + 1023) / 1024)
                if cylinderTimesHeads >= heads * 1024 || heads > 16 {
                    sectorsPerTrack = 31
                    heads = 16
                    cylinderTimesHeads = totalSectors / sectorsPerTrack
                }
                if cylinderTimesHeads >= heads * 1024 {
                    sectorsPerTrack = 63
                    heads = 16
                    cylinderTimesHeads = totalSectors / sectorsPerTrack
                }
            }
            self.init(
                cylinders: UInt16(cylinderTimesHeads / heads),
                heads: UInt8(heads),
                sectorsPerTrack: UInt8(sectorsPerTrack))
        }
    }
}
