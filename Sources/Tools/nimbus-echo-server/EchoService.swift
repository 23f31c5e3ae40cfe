import Foundation
import NimbusProto
import NimbusRPCCore
import NimbusTestingProto
import Synchronization

/// `nimbus.testing.v1.Echo` for the interop suite: echoes text and payload, fails on request
/// (`fail_with_code`), waits `delay_ms` (cancellable), and echoes `x-echo-*` metadata as
/// response headers and as `…-trailer` trailers.
struct EchoService: TestingV1.EchoService {
    let wire: WireTestService

    private func prepare(_ request: TestingV1.EchoRequest, _ context: ServerContext) async throws {
        for (key, value) in context.metadata where key.hasPrefix("x-echo-") {
            context.addResponseHeader(key, value: value)
            context.addTrailer(key.hasSuffix("-bin") ? String(key.dropLast(4)) + "-trailer-bin" : key + "-trailer", value: value)
        }
        if request.delayMs > 0 {
            do {
                try await Task.sleep(for: .milliseconds(Int(request.delayMs)))
            } catch {
                wire.cancellations.add(1, ordering: .relaxed)
                throw error
            }
        }
        if request.failWithCode != 0 {
            throw RPCError(RPCCode(rawValue: Int(request.failWithCode)), request.failWithMessage)
        }
    }

    func say(_ request: TestingV1.EchoRequest, context: ServerContext) async throws -> TestingV1.EchoResponse {
        try await prepare(request, context)
        return TestingV1.EchoResponse(text: request.text, index: 0, payload: request.payload)
    }

    func expand(_ request: TestingV1.EchoRequest, responses: RPCMessageWriter<TestingV1.EchoResponse>, context: ServerContext) async throws {
        try await prepare(request, context)
        for i in 0..<max(0, Int(request.repeat)) {
            try await responses.write(TestingV1.EchoResponse(text: request.text, index: Int32(i), payload: request.payload))
        }
    }

    func collect(_ requests: RPCMessageStream<TestingV1.EchoRequest>, context: ServerContext) async throws -> TestingV1.EchoResponse {
        var texts: [String] = []
        var payload = Data()
        for try await request in requests {
            try await prepare(request, context)
            texts.append(request.text)
            payload.append(request.payload)
        }
        return TestingV1.EchoResponse(text: texts.joined(separator: " "), index: Int32(texts.count), payload: payload)
    }

    func chat(_ requests: RPCMessageStream<TestingV1.EchoRequest>, responses: RPCMessageWriter<TestingV1.EchoResponse>, context: ServerContext) async throws {
        var index: Int32 = 0
        for try await request in requests {
            try await prepare(request, context)
            try await responses.write(TestingV1.EchoResponse(text: request.text, index: index, payload: request.payload))
            index += 1
        }
    }
}
