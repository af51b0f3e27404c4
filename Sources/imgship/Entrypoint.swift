import ImgshipCommands

/// The executable: all of `imgship` is in ImgshipCommands, where tests can call it.
@main
struct Entrypoint {
    static func main() {
        Imgship.main()
    }
}
