import Foundation

/// Output helpers: results on stdout, diagnostics and progress on stderr.
enum Terminal {
    static var isInteractive: Bool { isatty(STDERR_FILENO) == 1 }

    static func print(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data(("nimbus: " + text + "\n").utf8))
    }

    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Reads a secret from the terminal without echo (or a line from a non-terminal stdin).
    static func readSecret(prompt: String) -> String? {
        if isatty(STDIN_FILENO) == 1 {
            FileHandle.standardError.write(Data(prompt.utf8))
            var original = termios()
            tcgetattr(STDIN_FILENO, &original)
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &silent)
            defer {
                tcsetattr(STDIN_FILENO, TCSANOW, &original)
                FileHandle.standardError.write(Data("\n".utf8))
            }
            return readLine(strippingNewline: true)
        }
        return readLine(strippingNewline: true)
    }
}

/// A one-line progress indicator on stderr (only when it is a terminal).
final class Spinner: @unchecked Sendable {
    private let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
    private var frame = 0
    private let started = ContinuousClock.now
    private let enabled = Terminal.isInteractive

    func update(_ text: String) {
        guard enabled else { return }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        frame = (frame + 1) % frames.count
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(frames[frame]) \(text) (\(String(format: "%.1f", seconds))s)".utf8))
    }

    func finish(_ text: String) {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        Terminal.note(text)
    }
}
