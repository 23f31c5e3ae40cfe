import NimbusRPCCore
import Testing
@testable import NimbusProtoJSON
import NimbusTestSupport

@Suite struct PathTemplateTests {
    @Test func parsesVariablesWildcardsAndVerbs() throws {
        let t = try PathTemplate("/v1/{name=projects/*/instances/*}:stop")
        #expect(t.segments == [.literal("v1"), .literal("projects"), .single, .literal("instances"), .single])
        #expect(t.variables.map(\.fieldPath) == [["name"]])
        #expect(t.variables.first?.segments == 1..<5)
        #expect(t.verb == "stop")
        let nested = try PathTemplate("/v1/instances/{instance.id}")
        #expect(nested.variables.first?.fieldPath == ["instance", "id"])
    }

    @Test(arguments: ["v1/x", "/v1/{id", "/v1/{}", "/v1//x", "/v1/{a={b}}", "/v1/**/x", "/v1/x:", "/v1/{a-b}"])
    func rejectsInvalidTemplates(_ text: String) {
        #expect(throws: PathTemplateError.self) { try PathTemplate(text) }
    }

    @Test func matchesAndBinds() throws {
        let t = try PathTemplate("/v1/{name=projects/*/instances/*}")
        let bound = try #require(t.match(["v1", "projects", "p1", "instances", "i1"], verb: nil))
        #expect(bound.first?.value == "projects/p1/instances/i1")
        #expect(t.match(["v1", "projects", "p1", "instances"], verb: nil) == nil)
        #expect(t.match(["v1", "projects", "", "instances", "i1"], verb: nil) == nil)
        let multi = try PathTemplate("/v1/by-name/{name=**}")
        #expect(multi.match(["v1", "by-name", "a", "b", "c"], verb: nil)?.first?.value == "a/b/c")
    }
}

@Suite struct HTTPRouterTests {
    let router = try! HTTPRouter(descriptors: Fixtures.descriptors)

    func matched(_ method: String, _ path: String) -> RouteMatch? {
        if case .matched(let match) = router.route(method: method, path: path) { return match }
        return nil
    }

    @Test func routesEachBinding() throws {
        #expect(matched("GET", "/v1/instances/abc")?.route.method.name == "GetInstance")
        #expect(matched("GET", "/v1/instances")?.route.method.name == "ListInstances")
        #expect(matched("POST", "/v1/instances")?.route.method.name == "CreateInstance")
        #expect(matched("DELETE", "/v1/instances/abc")?.route.method.name == "DeleteInstance")
        #expect(matched("PATCH", "/v1/instances/abc")?.route.method.name == "UpdateInstance")
        #expect(matched("GET", "/v1/instances/abc/ports")?.route.method.name == "ListPorts")
        #expect(matched("GET", "/v1/projects/p/instances/i")?.route.method.name == "GetByName")
        #expect(matched("GET", "/v1/by-name/x/y")?.route.method.name == "GetByName")
        #expect(matched("HEAD", "/v1/instances/abc")?.route.method.name == "GetInstance")
    }

    @Test func customVerbsAndPercentEncoding() throws {
        let stop = try #require(matched("POST", "/v1/instances/i%2D1:stop"))
        #expect(stop.route.method.name == "StopInstance")
        #expect(stop.pathBindings.first?.value == "i-1")
        #expect(stop.route.rpcMethod.path == "/gatewaytest.v1.Instances/StopInstance")
        // A colon in an id of a route without verbs stays part of the id.
        #expect(matched("GET", "/v1/instances/a:b")?.pathBindings.first?.value == "a:b")
        #expect(matched("GET", "/v1/instances/%E2%9C%93")?.pathBindings.first?.value == "✓")
    }

    @Test func unknownPathsAndVerbs() {
        guard case .notFound = router.route(method: "GET", path: "/v2/instances") else { Issue.record("matched /v2"); return }
        guard case .notFound = router.route(method: "GET", path: "/v1/instances/%ZZ") else { Issue.record("bad escape"); return }
        guard case .methodNotAllowed(let allowed) = router.route(method: "PUT", path: "/v1/instances/abc") else {
            Issue.record("PUT should be 405"); return
        }
        #expect(Set(allowed) == ["GET", "DELETE", "PATCH"])
    }

    @Test func streamingMethodsWithoutRulesHaveNoRoutes() {
        #expect(!router.routes.contains { $0.method.name == "Watch" })
    }
}

@Suite struct RESTTranscoderTests {
    let router = try! HTTPRouter(descriptors: Fixtures.descriptors)
    let rest = RESTTranscoder(descriptors: Fixtures.descriptors)

    func request(_ method: String, _ target: String, body: String = "", contentType: String? = "application/json",
                 type: String) throws -> JSONValue {
        let parts = target.split(separator: "?", maxSplits: 1)
        guard case .matched(let match) = router.route(method: method, path: String(parts[0])) else {
            throw HTTPProblem(status: 404, code: .notFound, detail: target)
        }
        let bytes = try rest.requestMessage(for: match, query: parts.count > 1 ? String(parts[1]) : nil,
                                            body: Array(body.utf8), contentType: contentType)
        return try rest.transcoder.json(fromProtobuf: bytes, messageType: type)
    }

    func problem(_ method: String, _ target: String, body: String = "", contentType: String? = "application/json") -> HTTPProblem? {
        do {
            _ = try request(method, target, body: body, contentType: contentType, type: "gatewaytest.v1.Instance")
            return nil
        } catch let problem as HTTPProblem {
            return problem
        } catch {
            return HTTPProblem(status: 0, code: .unknown, detail: "\(error)")
        }
    }

    @Test func pathVariablesFillFields() throws {
        let json = try request("GET", "/v1/instances/i-9", type: "gatewaytest.v1.GetInstanceRequest")
        #expect(json == .object(["id": .string("i-9")]))
    }

    @Test func queryParametersIncludingNestedAndRepeated() throws {
        let json = try request("GET", "/v1/instances?page_size=10&pageToken=t%20k&filter.namePrefix=we+b&filter.include_stopped=true&states=RUNNING&states=3",
                               type: "gatewaytest.v1.ListInstancesRequest")
        #expect(json == (try JSONValue.parse(#"""
        {"pageSize":10,"pageToken":"t k","filter":{"namePrefix":"we b","includeStopped":true},"states":["RUNNING","STOPPED"]}
        """#)))
    }

    @Test func bodyFieldPlusPathVariable() throws {
        let json = try request("PATCH", "/v1/instances/i-1?updateMask=name", body: #"{"name":"new","id":"ignored"}"#,
                               type: "gatewaytest.v1.UpdateInstanceRequest")
        #expect(json == (try JSONValue.parse(#"{"instance":{"id":"i-1","name":"new"},"updateMask":"name"}"#)))
    }

    @Test func wholeBodyWithCustomVerb() throws {
        let json = try request("POST", "/v1/instances/i-2:stop", body: #"{"force":true}"#, type: "gatewaytest.v1.StopInstanceRequest")
        #expect(json == (try JSONValue.parse(#"{"id":"i-2","force":true}"#)))
        let empty = try request("POST", "/v1/instances/i-2:stop", type: "gatewaytest.v1.StopInstanceRequest")
        #expect(empty == .object(["id": .string("i-2")]))
    }

    @Test func badRequestsSayWhatIsWrong() {
        #expect(problem("GET", "/v1/instances?bogus=1")?.detail.contains("no field bogus") == true)
        #expect(problem("GET", "/v1/instances?page_size=ten")?.detail.contains("pageSize") == true)
        #expect(problem("GET", "/v1/instances?page_size=1&page_size=2")?.detail.contains("more than once") == true)
        #expect(problem("GET", "/v1/instances?filter.include_stopped=maybe")?.detail.contains("true or false") == true)
        #expect(problem("GET", "/v1/instances/x", body: "{}")?.detail.contains("takes no request body") == true)
        #expect(problem("POST", "/v1/instances", body: #"{"name": }"#)?.detail.contains("line 1, column 10") == true)
        #expect(problem("POST", "/v1/instances", body: #"{"nmae":"x"}"#)?.detail.contains("instance.nmae") == true)
        #expect(problem("POST", "/v1/instances", body: "name=x", contentType: "application/x-www-form-urlencoded")?.status == 415)
        #expect(problem("POST", "/v1/instances/i:stop?force=true", body: "{}")?.status == 400)
        #expect(problem("POST", "/v1/instances?instance.name=x")?.detail.contains("part of the request body") == true)
        #expect(problem("POST", "/v1/instances/i:stop", body: "[1]")?.detail.contains("JSON object") == true)
        #expect(problem("GET", "/v1/instances?%ZZ=1")?.status == 400)
    }

    @Test func responseBodyFieldAndFullResponse() throws {
        var writer = ProtoWriter()
        writer.writeTag(2, .lengthDelimited); writer.writeLengthDelimited(Array("web".utf8))
        guard case .matched(let ports) = router.route(method: "GET", path: "/v1/instances/x/ports"),
              case .matched(let get) = router.route(method: "GET", path: "/v1/instances/x") else {
            Issue.record("routes missing"); return
        }
        #expect(String(decoding: try rest.responseBody(for: ports.route, response: writer.bytes), as: UTF8.self) == "[]")
        #expect(String(decoding: try rest.responseBody(for: get.route, response: writer.bytes), as: UTF8.self) == #"{"name":"web"}"#)
        #expect(throws: HTTPProblem.self) { try rest.responseBody(for: get.route, response: [0x12, 0x09]) }
    }
}

@Suite struct HTTPProblemTests {
    @Test(arguments: [
        (RPCCode.ok, 200), (.cancelled, 499), (.unknown, 500), (.invalidArgument, 400), (.deadlineExceeded, 504),
        (.notFound, 404), (.alreadyExists, 409), (.permissionDenied, 403), (.resourceExhausted, 429),
        (.failedPrecondition, 400), (.aborted, 409), (.outOfRange, 400), (.unimplemented, 501), (.internal, 500),
        (.unavailable, 503), (.dataLoss, 500), (.unauthenticated, 401),
    ])
    func mapsLikeGooglesDesignGuide(_ code: RPCCode, _ status: Int) {
        #expect(HTTPProblem.httpStatus(for: code) == status)
    }

    @Test func problemDocumentFollowsRFC9457() {
        let problem = HTTPProblem(RPCError(.notFound, "instance i-1 not found"))
        let body = problem.body(instance: "/v1/instances/i-1", requestID: "r-1")
        #expect(body["type"] == .string("urn:nimbus:problem:not-found"))
        #expect(body["title"] == .string("Not Found"))
        #expect(body["status"] == .number("404"))
        #expect(body["detail"] == .string("instance i-1 not found"))
        #expect(body["code"] == .string("NOT_FOUND"))
        #expect(body["instance"] == .string("/v1/instances/i-1"))
        #expect(body["requestId"] == .string("r-1"))
        #expect(HTTPProblem(RPCError(.unauthenticated, "no key")).headers.first?.value == "Bearer")
    }
}

@Suite struct EncodedSlashRoutingTests {
    @Test func multiSegmentVariableMayArriveEncoded() throws {
        let router = try HTTPRouter(descriptors: Fixtures.descriptors)
        guard case .matched(let match) = router.route(method: "GET", path: "/v1/projects%2Fp1%2Finstances%2Fi1") else {
            Issue.record("encoded slashes did not route"); return
        }
        #expect(match.route.method.name == "GetByName")
        #expect(match.pathBindings.first?.value == "projects/p1/instances/i1")
    }
}
