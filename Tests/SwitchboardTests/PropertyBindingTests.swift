import Foundation
import Switchboard
import Testing

@Suite struct PropertyBindingTests {
    let api = makeAPI()

    @Test func resolvesNamesCaseInsensitivelyByFullNameOrSuffix() throws {
        #expect(try api.terminal(named: "tests.recorder").name == "Tests.Recorder")
        #expect(try api.terminal(named: "RECORDER").name == "Tests.Recorder")
        #expect(try api.terminal(named: "shell").name == "Switchboard.Shell")
        #expect(try api.terminal(named: "").name == "Switchboard.Shell")
        #expect(throws: Never.self) { try api.terminal(named: "Switchboard.Shell") }
    }

    @Test func unknownAndAmbiguousNamesListWhatExists() {
        do {
            _ = try api.terminal(named: "nothing")
            Issue.record("resolved")
        } catch {
            #expect(error.status == 404)
            #expect(
                error.message
                    == "Could not locate any resource by 'nothing'. Available resources: Switchboard.Admin.Console, Switchboard.Admin.Error, Switchboard.Admin.Resource, Switchboard.Admin.Schema, Switchboard.Admin.WebSocket, Switchboard.AvailableResource, Switchboard.Shell, Tests.Recorder"
            )
        }
        api.register { OtherRecorder() }
        do {
            _ = try api.terminal(named: "recorder")
            Issue.record("resolved")
        } catch {
            #expect(error.code == .ambiguousResource)
            #expect(error.message.contains("Other.Recorder, Tests.Recorder"))
        }
    }

    @Test func convertsValuesByTheirPropertyType() throws {
        let canonical = try api.validateTerminalURI(
            "/recorder/FLAG=TRUE&count=-5&ratio=2.25&label='null'&mode=JSON&since=2024-05-01T12:30&limit=null")
        #expect(canonical == "/Tests.Recorder/Flag=true&Count=-5&Ratio=2.25&Label='null'&Mode=json&Since=2024-05-01T12:30:00Z&Limit=null")
        #expect(try api.validateTerminalURI("/recorder/label=\"quoted\"&limit=7") == "/Tests.Recorder/Label=quoted&Limit=7")
        #expect(try api.validateTerminalURI("/recorder/since=2024-05-01T12:30:00.5%2B02:00") == "/Tests.Recorder/Since=2024-05-01T10:30:00.500Z")
    }

    @Test(arguments: [
        ("/recorder/flag=1", 400, "Invalid value 1 for property 'Flag' of terminal 'Tests.Recorder': expected true or false"),
        ("/recorder/count=many", 400, "Invalid value many for property 'Count' of terminal 'Tests.Recorder': expected an integer"),
        ("/recorder/count=null", 400, "Invalid value null for property 'Count' of terminal 'Tests.Recorder': expected an integer"),
        ("/recorder/ratio=x", 400, "expected a number"),
        ("/recorder/mode=xml", 400, "Invalid value xml for property 'Mode' of terminal 'Tests.Recorder': expected one of 'line', 'json'"),
        ("/recorder/since=2024-13-01", 400, "expected an ISO 8601 date"),
        ("/recorder/limit=x", 400, "expected an integer, or null"),
        ("/recorder/status=busy", 400, "Property 'Status' of terminal 'Tests.Recorder' is read-only"),
        (
            "/recorder/colour=red", 404,
            "Unknown property 'colour' in terminal 'Tests.Recorder'; its properties are Flag, Count, Ratio, Label, Mode, Since, Limit, Status"
        ),
        ("/recorder/count>1", 400, "Invalid operator '>' in condition 'count>1' to terminal resource 'Tests.Recorder'; only '=' is valid"),
        ("/recorder/count=1&COUNT=2", 400, "Property 'Count' is assigned more than once"),
        ("/recorder/_/limit=1", 400, "takes no meta-conditions"),
    ])
    func rejectsBadAssignmentsNamingPropertyValueAndExpectation(uri: String, status: Int, message: String) {
        do {
            try api.validateTerminalURI(uri)
            Issue.record("accepted \(uri)")
        } catch {
            #expect(error.status == status)
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func describesPropertiesForOptions() throws {
        let descriptor = try api.terminal(named: "recorder")
        #expect(descriptor.properties.map(\.name) == ["Flag", "Count", "Ratio", "Label", "Mode", "Since", "Limit", "Status"])
        #expect(descriptor.properties.map(\.typeName) == ["Bool", "Int", "Double", "String", "line | json", "Date?", "Int?", "String"])
        #expect(descriptor.properties[1].summary == "A count")
        #expect(descriptor.properties.last?.isReadOnly == true)
    }
}
