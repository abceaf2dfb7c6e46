import Foundation

/// RFC 3339 UTC timestamps with milliseconds, as the protocol writes them.
enum Timestamp {
    static func string(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    static func json(_ date: Date?) -> JSONValue { date.map { .string(string($0)) } ?? .null }
}
