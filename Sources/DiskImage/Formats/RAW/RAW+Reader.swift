extension RAW {
    /// A raw image is its file (or block device) as it is.
    static func open(_ file: SourceImage) -> OpenedImage {
        let info = ImageInfo(
            path: file.path, format: .raw, subformat: file.isBlockDevice ? "block device" : "file",
            virtualSize: file.size, fileSize: file.fileSize, allocatedBytes: file.allocatedBytes, details: [])
        return OpenedImage(disk: file, info: info, findings: [])
    }
}
