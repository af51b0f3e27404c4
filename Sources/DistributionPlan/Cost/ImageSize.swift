import ConfigDocument

/// The size of the image a plan distributes, in GiB, and where it comes from.
public struct ImageSize: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// Given on the command line (`--image-size`).
        case given
        /// The sum of the recipe's EBS `volumeSize`s, at this JSON path.
        case recipe(path: String)
    }

    /// GiB: EBS volume sizes are whole GiB (EC2 API reference, EbsBlockDevice.VolumeSize).
    public var gib: Int
    public var source: Source

    public init(gib: Int, source: Source = .given) {
        self.gib = gib
        self.source = source
    }

    /// One EBS volume's size in a recipe, GiB (Image Builder API, EbsInstanceBlockDeviceSpecification
    /// volumeSize: 1 to 16,000).
    public static let volumeGiB = 1...16_000

    /// The largest image size an estimate takes, GiB, given (`--image-size`) or summed from
    /// a recipe: 2^30 GiB, a bound only so the arithmetic of an estimate cannot overflow.
    public static let maximumGiB = 1 << 30

    /// What a recipe document says about the image's size.
    public struct Reading: Sendable {
        /// Nil when no mapping gives a size.
        public var size: ImageSize?
        /// Mappings that add a volume without a `volumeSize`: the size comes from the parent
        /// image or the snapshot, which imgship cannot see.
        public var unsizedDevices: [String]
        public var problems: [Problem]
    }

    /// The image size from a recipe's `blockDeviceMappings`: the sum of `ebs.volumeSize` of the
    /// mappings that add a device (a mapping with `noDevice` removes one; Image Builder API,
    /// InstanceBlockDeviceMapping). Reads get-image-recipe (`imageRecipe`), get-image
    /// (`image.imageRecipe`), a create-image-recipe request, or an `AWS::ImageBuilder::ImageRecipe`
    /// resource of a CloudFormation template (`BlockDeviceMappings[].Ebs.VolumeSize`).
    public static func fromRecipe(document text: String) -> Reading {
        let document: ConfigValue
        do {
            document = try DocumentReader.parse(text)
        } catch {
            return Reading(size: nil, unsizedDevices: [], problems: [error])
        }
        guard let (recipe, path, naming) = recipeObject(in: document) else {
            return Reading(
                size: nil, unsizedDevices: [],
                problems: [
                    Problem(
                        .error, "",
                        "no image recipe with blockDeviceMappings found (imageRecipe, image.imageRecipe, a recipe request, or an AWS::ImageBuilder::ImageRecipe resource)",
                        at: document)
                ])
        }
        return sum(recipe, path: path, naming: naming)
    }

    /// The recipe object of a document, its path and its field spelling.
    static func recipeObject(in document: ConfigValue) -> (ConfigValue, String, FieldNaming)? {
        if let recipe = document["imageRecipe"] { return (recipe, "imageRecipe", .api) }
        if let recipe = document["image"]?["imageRecipe"] { return (recipe, "image.imageRecipe", .api) }
        if document["blockDeviceMappings"] != nil { return (document, "", .api) }
        for (name, resource) in document["Resources"]?.members ?? [] where resource["Type"]?.string == "AWS::ImageBuilder::ImageRecipe" {
            if let properties = resource["Properties"] { return (properties, "Resources.\(name).Properties", .cloudFormation) }
        }
        return nil
    }

    static func sum(_ recipe: ConfigValue, path: String, naming: FieldNaming) -> Reading {
        func field(_ name: String) -> String { naming.name(name) }
        func at(_ suffix: String) -> String { path.isEmpty ? suffix : path + "." + suffix }
        var total = 0
        var sized = false
        var unsized: [String] = []
        var problems: [Problem] = []
        let mappings = recipe[field("blockDeviceMappings")]?.array ?? []
        for (index, mapping) in mappings.enumerated() {
            let device = mapping[field("deviceName")]?.string ?? "#\(index)"
            if mapping[field("noDevice")] != nil { continue }
            guard let ebs = mapping[field("ebs")] else { continue }
            guard let sizeValue = ebs[field("volumeSize")] else {
                unsized.append(device)
                continue
            }
            // A size that is no whole number of 1 to 16,000 GiB is not counted: BlockDeviceRules,
            // which checks every mapping of the same document, names it as an error.
            guard let size = sizeValue.int ?? sizeValue.string.flatMap({ Int($0) }), Self.volumeGiB.contains(size) else { continue }
            // Each volume is at most 16,000 GiB, so the sum is checked against the bound
            // `--image-size` has long before it can come near overflow.
            guard total + size <= Self.maximumGiB else {
                problems.append(
                    Problem(
                        .error, at("\(field("blockDeviceMappings"))[\(index)].\(field("ebs")).\(field("volumeSize"))"),
                        "the volumes add up to more than \(Self.maximumGiB) GiB, the largest image size imgship estimates", at: sizeValue))
                return Reading(size: nil, unsizedDevices: unsized, problems: problems)
            }
            total += size
            sized = true
        }
        return Reading(
            size: sized ? ImageSize(gib: total, source: .recipe(path: at(field("blockDeviceMappings")))) : nil,
            unsizedDevices: unsized, problems: problems)
    }
}
