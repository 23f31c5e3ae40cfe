@testable import NimbusHTTP
import Testing

/// The HTTP/1.1 connection's protocol decisions, without sockets.
@Suite struct HTTP1ConnectionMachineTests {
    private func head(_ method: String = "POST", version: HTTPVersion = .http1_1, _ headers: HTTPHeaders = ["host": "x"]) -> HTTPRequestHead {
        HTTPRequestHead(method: method, target: "/", version: version, headers: headers)
    }

    @Test func bodyReadResponseKeepAliveNextRequest() {
        var machine = HTTP1ConnectionMachine()
        machine.receivedHead(head(), expectedLength: 5)
        #expect(machine.wantsBodyEvents)
        machine.receivedBody(5)
        do { let got = machine.receivedBodyEnd(); #expect(got == nil) }
        #expect(!machine.wantsBodyEvents)
        let (framing, keepAlive) = machine.responseHead(status: 200, length: 2, handlerAskedToClose: false)
        #expect(framing == .length(2) && keepAlive)
        do { let got = machine.responseEnded(); #expect(got == .readNextRequest) }
        #expect(machine.isAwaitingHead)
    }

    @Test func unknownLengthIsChunkedForHTTP11AndCloseDelimitedForHTTP10() {
        var machine = HTTP1ConnectionMachine()
        machine.receivedHead(head("GET"), expectedLength: 0)
        do { let got = machine.responseHead(status: 200, length: nil, handlerAskedToClose: false); #expect(got == (.chunked, true)) }
        do { let got = machine.responseEnded(); #expect(got == .readNextRequest) }

        var old = HTTP1ConnectionMachine()
        old.receivedHead(head("GET", version: .http1_0, ["connection": "keep-alive"]), expectedLength: 0)
        do { let got = old.responseHead(status: 200, length: nil, handlerAskedToClose: false); #expect(got == (.untilClose, false)) }
        do { let got = old.responseEnded(); #expect(got == .close) }
    }

    @Test func noBodyStatusesAndHandlerClose() {
        var machine = HTTP1ConnectionMachine()
        machine.receivedHead(head("GET"), expectedLength: 0)
        do { let got = machine.responseHead(status: 204, length: 10, handlerAskedToClose: false); #expect(got == (.none, true)) }
        _ = machine.responseEnded()
        machine.receivedHead(head("GET"), expectedLength: 0)
        do { let got = machine.responseHead(status: 200, length: 0, handlerAskedToClose: true); #expect(got == (.length(0), false)) }
        do { let got = machine.responseEnded(); #expect(got == .close) }
        #expect(machine.isClosing)
    }

    @Test func continueGoesOutOnFirstDemandOnlyBeforeTheResponse() {
        var machine = HTTP1ConnectionMachine()
        machine.receivedHead(head("PUT", ["host": "x", "expect": "100-continue"]), expectedLength: 10)
        do { let got = machine.bodyDemanded(); #expect(got) }
        do { let got = machine.bodyDemanded(); #expect(!got) }  // once

        var late = HTTP1ConnectionMachine()
        late.receivedHead(head("PUT", ["host": "x", "expect": "100-continue"]), expectedLength: 10)
        _ = late.responseHead(status: 200, length: nil, handlerAskedToClose: false)
        do { let got = late.bodyDemanded(); #expect(!got) }  // a final status went out: no 100 after it
    }

    @Test func answeringWithoutReadingAnExpectedBodyCloses() {
        // The client waits for 100 before sending; whether it sends anyway is unknown.
        var machine = HTTP1ConnectionMachine()
        machine.receivedHead(head("PUT", ["host": "x", "expect": "100-continue"]), expectedLength: 1 << 30)
        do { let got = machine.responseHead(status: 403, length: 0, handlerAskedToClose: false); #expect(got == (.length(0), false)) }
        do { let got = machine.responseEnded(); #expect(got == .close) }
    }

    @Test func unreadSmallBodyIsDiscardedLargeOneCloses() {
        var small = HTTP1ConnectionMachine()
        small.receivedHead(head(), expectedLength: 1000)
        small.receivedBody(100)
        _ = small.responseHead(status: 201, length: 0, handlerAskedToClose: false)
        do { let got = small.responseEnded(); #expect(got == .discardBody) }
        #expect(small.wantsBodyEvents && !small.isAwaitingHead)
        small.receivedBody(900)
        #expect(!small.discardExhausted)
        do { let got = small.receivedBodyEnd(); #expect(got == .readNextRequest) }
        #expect(small.isAwaitingHead)

        var large = HTTP1ConnectionMachine()
        large.receivedHead(head(), expectedLength: 2 << 30)
        _ = large.responseHead(status: 413, length: 0, handlerAskedToClose: false)
        do { let got = large.responseEnded(); #expect(got == .close) }

        var chunked = HTTP1ConnectionMachine()
        chunked.receivedHead(head(), expectedLength: nil)
        _ = chunked.responseHead(status: 200, length: 0, handlerAskedToClose: false)
        do { let got = chunked.responseEnded(); #expect(got == .discardBody) }
        chunked.receivedBody(HTTP1ConnectionMachine.discardLimit + 1)
        #expect(chunked.discardExhausted)  // then the connection closes
    }

    @Test func failedResponseAndShutdownClose() {
        var machine = HTTP1ConnectionMachine()
        machine.receivedHead(head("GET"), expectedLength: 0)
        _ = machine.responseHead(status: 200, length: 10, handlerAskedToClose: false)
        do { let got = machine.responseEnded(failed: true); #expect(got == .close) }

        var idle = HTTP1ConnectionMachine()
        do { let got = idle.beginShutdown(); #expect(got) }
        #expect(idle.isClosing)

        var busy = HTTP1ConnectionMachine()
        busy.receivedHead(head("GET"), expectedLength: 0)
        do { let got = busy.beginShutdown(); #expect(!got) }
        do { let got = busy.responseHead(status: 200, length: 1, handlerAskedToClose: false); #expect(got.keepAlive == false) }
        do { let got = busy.responseEnded(); #expect(got == .close) }
    }

    @Test(arguments: [
        ("bytes=0-9", 100, HTTPRange.Resolution.partial(HTTPRange(first: 0, last: 9))),
        ("bytes=90-", 100, .partial(HTTPRange(first: 90, last: 99))),
        ("bytes=-10", 100, .partial(HTTPRange(first: 90, last: 99))),
        ("bytes=-500", 100, .partial(HTTPRange(first: 0, last: 99))),
        ("bytes=50-500", 100, .partial(HTTPRange(first: 50, last: 99))),
        ("bytes=100-", 100, .unsatisfiable),
        ("bytes=-0", 100, .unsatisfiable),
        ("bytes=0-1,5-6", 100, .whole),
        ("items=0-1", 100, .whole),
        ("bytes=5-1", 100, .whole),
        ("bytes=x-1", 100, .whole),
    ])
    func rangesResolveAgainstALength(_ header: String, _ length: Int, _ expected: HTTPRange.Resolution) {
        #expect(HTTPRange.resolve(header, length: length) == expected)
    }

    @Test func rangeHeaderValues() {
        #expect(HTTPRange(first: 0, last: 9).contentRange(length: 100) == "bytes 0-9/100")
        #expect(HTTPRange.unsatisfiedContentRange(length: 100) == "bytes */100")
        #expect(HTTPRange.resolve(nil, length: 5) == .whole)
    }

    @Test func parserEventsStreamTheBody() throws {
        var parser = HTTP1RequestParser()
        parser.append(Array("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n".utf8))
        guard case .head(let head, let length) = try parser.nextEvent() else { Issue.record("no head"); return }
        #expect(head.target == "/a" && length == nil)
        guard case .body(let bytes) = try parser.nextEvent() else { Issue.record("no body"); return }
        #expect(Array(bytes) == Array("abc".utf8))
        #expect(try parser.nextEvent() == nil)  // more to come
        parser.append(Array("0\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        guard case .end = try parser.nextEvent() else { Issue.record("no end"); return }
        guard case .head(let next, let none) = try parser.nextEvent() else { Issue.record("no second head"); return }
        #expect(next.target == "/b" && none == 0)
        guard case .end = try parser.nextEvent() else { Issue.record("no second end"); return }
    }
}
