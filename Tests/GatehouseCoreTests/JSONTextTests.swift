import Foundation
import GatehouseCore
import Testing

@Suite("JSON writer of the tiered-access bodies")
struct JSONTextTests {
    /// What the writer emits parses back to the same value, whether the tree was built in
    /// Swift or parsed by JSONSerialization (numbers as NSNumber).
    @Test func roundTripsSwiftAndFoundationValues() throws {
        let text = #"{"z":1,"a":true,"n":null,"f":1.5,"big":12345678901234,"neg":-7,"s":"q\"b\\s/\n\t\u0001é","o":{"b":[1,false,"x",{}],"a":[]}}"#
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
        let written = JSONText.bytes(parsed)
        let reparsed = try #require(try JSONSerialization.jsonObject(with: Data(written)) as? NSDictionary)
        #expect(reparsed == (parsed as? NSDictionary))
        let out = String(decoding: written, as: UTF8.self)
        #expect(out.hasPrefix(#"{"a":true,"big":12345678901234,"f":1.5,"n":null,"neg":-7,"o":{"a":[],"b":[1,false,"x",{}]},"s":"q\"b\\s/\n\t\u0001é","z":1}"#))

        let swift: [String: Any] = ["id": Int64(42), "on": false, "count": 3, "ratio": 0.25, "none": NSNull(), "meta": ["k": "v"], "ids": [Int64(1), Int64(2)]]
        #expect(JSONText.string(swift) == #"{"count":3,"id":42,"ids":[1,2],"meta":{"k":"v"},"none":null,"on":false,"ratio":0.25}"#)
    }

    /// Integers stay integers and booleans stay booleans (a bridging cast must not turn 1 into true).
    @Test func numbersAndBooleansKeepTheirKind() throws {
        let parsed = try JSONSerialization.jsonObject(with: Data(#"[1,0,true,false,2.0]"#.utf8))
        #expect(JSONText.string(parsed) == "[1,0,true,false,2]")
        #expect(JSONText.string([true, 1, 0, false] as [Any]) == "[true,1,0,false]")
    }

    /// Keys sort by code point, so the output does not depend on a locale.
    @Test func keysSortByCodePoint() {
        #expect(JSONText.string(["b": 1, "B": 2, "_": 3, "a_b": 4, "ab": 5]) == #"{"B":2,"_":3,"a_b":4,"ab":5,"b":1}"#)
    }
}
