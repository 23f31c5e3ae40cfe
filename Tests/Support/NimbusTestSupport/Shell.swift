import Foundation

/// Runs a command to completion and captures its output (stdout and stderr together).
public struct Shell {
    public struct Failure: Error, CustomStringConvertible {
        public var command: [String]
        public var status: Int32
        public var output: String
        public var description: String { "`\(command.joined(separator: " "))` exited \(status): \(output)" }
    }

    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @discardableResult
    public static func check(_ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let (status, output) = try run(arguments, environment: environment)
        guard status == 0 else { throw Failure(command: arguments, status: status, output: output) }
        return output
    }
}
