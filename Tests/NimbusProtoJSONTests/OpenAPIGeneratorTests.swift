import Testing
@testable import NimbusProtoJSON
import NimbusTestSupport

@Suite struct OpenAPIGeneratorTests {
    let document: JSONValue = {
        let router = try! HTTPRouter(descriptors: Fixtures.descriptors)
        return OpenAPIGenerator(descriptors: Fixtures.descriptors, router: router,
                                info: .init(version: "test"),
                                publicMethods: ["/gatewaytest.v1.Instances/ListInstances"]).document()
    }()

    func operation(_ path: String, _ verb: String) throws -> JSONValue {
        try #require(document["paths"]?[path]?[verb], "no \(verb) \(path)")
    }

    @Test func headerAndSecurity() {
        #expect(document["openapi"] == .string("3.1.0"))
        #expect(document["info"]?["version"] == .string("test"))
        #expect(document["components"]?["securitySchemes"]?["bearerAuth"]?["scheme"] == .string("bearer"))
        #expect(document["security"] != nil)
    }

    @Test func pathsComeFromHTTPRules() throws {
        let get = try operation("/v1/instances/{id}", "get")
        #expect(get["operationId"] == .string("Instances_GetInstance"))
        #expect(get["summary"] == .string("Returns one instance."))
        #expect(get["parameters"] == .array([.object(["name": .string("id"), "in": .string("path"), "required": .bool(true),
                                                      "schema": .object(["type": .string("string")])])]))
        #expect(get["responses"]?["200"]?["content"]?["application/json"]?["schema"]?["$ref"]
                == .string("#/components/schemas/gatewaytest.v1.Instance"))
        #expect(get["responses"]?["default"]?["content"]?["application/problem+json"] != nil)
        _ = try operation("/v1/instances/{id}:stop", "post")
        _ = try operation("/v1/instances/{instance.id}", "patch")
        let byName = try operation("/v1/{name}", "get")
        #expect(byName["parameters"]?.arrayValue?.first?["schema"]?["pattern"] == .string("^projects/[^/]+/instances/[^/]+$"))
        _ = try operation("/v1/by-name/{name}", "get")
        #expect(document["paths"]?["/healthz"]?["get"] != nil)
    }

    @Test func queryParametersFlattenNestedFields() throws {
        let list = try operation("/v1/instances", "get")
        let names = list["parameters"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names == ["pageSize", "pageToken", "filter.namePrefix", "filter.includeStopped", "states"])
        #expect(list["security"] == .array([]))
        let states = list["parameters"]?.arrayValue?.last
        #expect(states?["schema"]?["type"] == .string("array"))
    }

    @Test func bodiesFollowTheRule() throws {
        let create = try operation("/v1/instances", "post")
        #expect(create["requestBody"]?["content"]?["application/json"]?["schema"]?["$ref"]
                == .string("#/components/schemas/gatewaytest.v1.Instance"))
        #expect(create["parameters"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["requestId"])
        let stop = try operation("/v1/instances/{id}:stop", "post")
        #expect(stop["requestBody"]?["content"]?["application/json"]?["schema"]?["$ref"]
                == .string("#/components/schemas/gatewaytest.v1.StopInstanceRequest"))
        let ports = try operation("/v1/instances/{id}/ports", "get")
        #expect(ports["responses"]?["200"]?["content"]?["application/json"]?["schema"]?["type"] == .string("array"))
    }

    @Test func schemasFollowTheProto3JSONMapping() throws {
        let instance = try #require(document["components"]?["schemas"]?["gatewaytest.v1.Instance"])
        let properties = try #require(instance["properties"])
        #expect(instance["additionalProperties"] == .bool(false))
        #expect(properties["memoryBytes"]?["type"] == .string("string"))
        #expect(properties["cpuMillis"]?["type"] == .string("integer"))
        #expect(properties["createdAt"]?["format"] == .string("date-time"))
        #expect(properties["labels"]?["additionalProperties"]?["type"] == .string("string"))
        #expect(properties["ports"]?["items"]?["$ref"] == .string("#/components/schemas/gatewaytest.v1.Port"))
        #expect(properties["state"]?["$ref"] == .string("#/components/schemas/gatewaytest.v1.Instance.State"))
        #expect(properties["nickname"]?["type"] == .string("string"))
        #expect(properties["id"]?["readOnly"] == .bool(true))
        #expect(properties["id"]?["description"] == .string("Server-assigned identifier."))
        #expect(properties["userData"]?["format"] == .string("byte"))
        let state = document["components"]?["schemas"]?["gatewaytest.v1.Instance.State"]
        #expect(state?["enum"]?.arrayValue?.count == 4)
        #expect(document["components"]?["schemas"]?["Problem"] != nil)
    }

    @Test func everyReferenceResolves() {
        var refs: [String] = []
        func collect(_ value: JSONValue) {
            switch value {
            case .object(let object):
                for member in object {
                    if member.key == "$ref", case .string(let ref) = member.value { refs.append(ref) } else { collect(member.value) }
                }
            case .array(let elements): elements.forEach(collect)
            default: break
            }
        }
        collect(document)
        #expect(!refs.isEmpty)
        for ref in refs {
            let name = String(ref.dropFirst("#/components/schemas/".count))
            #expect(document["components"]?["schemas"]?[name] != nil, "dangling \(ref)")
        }
    }

    @Test func documentIsValidJSONText() throws {
        let text = JSONWriter.serialize(document, pretty: true)
        #expect(try JSONParser.parse(text) == document)
    }
}

extension JSONValue {
    var arrayValue: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }
}
