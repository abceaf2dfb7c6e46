import Foundation
import Logging
import Testing
@testable import ScaleServer

/// Options override `SCALED_*` variables, which override the defaults.
@Suite struct DaemonSettingsTests {
    @Test func defaultsFromTheEnvironmentRules() throws {
        let s = try DaemonSettings(options: DaemonOptions(), environment: ["XDG_RUNTIME_DIR": "/run/user/9", "XDG_STATE_HOME": "/st"])
        #expect(s.socketPath == "/run/user/9/scaled.sock" && s.databasePath == "/st/scaled/scaled.db")
        #expect(s.socketMode == 0o600 && s.maxBodyBytes == 2 << 30 && s.logLevel == .info)
        #expect(s.metricsAddress == nil && s.alertCommand == nil)
        let home = try DaemonSettings(options: DaemonOptions(), environment: ["HOME": "/home/u"])
        #expect(home.databasePath == "/home/u/.local/state/scaled/scaled.db")
    }

    @Test func environmentThenOptions() throws {
        let env = ["SCALED_SOCKET": "/e.sock", "SCALED_DB": "/e.db", "SCALED_SOCKET_MODE": "0660",
                   "SCALED_MAX_BODY_BYTES": "1000", "SCALED_LOG_LEVEL": "debug",
                   "SCALED_METRICS_ADDRESS": "[::1]:9464", "SCALED_ALERT_COMMAND": "cat"]
        let e = try DaemonSettings(options: DaemonOptions(), environment: env)
        #expect(e.socketPath == "/e.sock" && e.databasePath == "/e.db" && e.socketMode == 0o660)
        #expect(e.maxBodyBytes == 1000 && e.logLevel == .debug && e.alertCommand == "cat")
        #expect(e.metricsAddress?.host == "::1" && e.metricsAddress?.port == 9464)
        let o = try DaemonSettings(options: DaemonOptions(socket: "/o.sock", db: "/o.db", socketMode: "0640", maxBodyBytes: 5,
                                                          logLevel: "error", metricsAddress: "127.0.0.1:1", alertCommand: "true"),
                                   environment: env)
        #expect(o.socketPath == "/o.sock" && o.databasePath == "/o.db" && o.socketMode == 0o640)
        #expect(o.maxBodyBytes == 5 && o.logLevel == .error && o.alertCommand == "true")
        #expect(o.metricsAddress?.host == "127.0.0.1" && o.metricsAddress?.port == 1)
    }

    @Test(arguments: [
        (DaemonOptions(socketMode: "0999"), [String: String](), "--socket-mode"),
        (DaemonOptions(socketMode: "rw"), [:], "--socket-mode"),
        (DaemonOptions(maxBodyBytes: 0), [:], "--max-body-bytes"),
        (DaemonOptions(), ["SCALED_MAX_BODY_BYTES": "lots"], "SCALED_MAX_BODY_BYTES"),
        (DaemonOptions(logLevel: "loud"), [:], "log level"),
        (DaemonOptions(), ["SCALED_LOG_LEVEL": "loud"], "log level"),
        (DaemonOptions(metricsAddress: "9464"), [:], "--metrics-address"),
        (DaemonOptions(metricsAddress: "host:99999"), [:], "--metrics-address"),
    ])
    func invalidValuesSayWhich(options: DaemonOptions, env: [String: String], names: String) {
        #expect(throws: DaemonSettings.Invalid.self) { try DaemonSettings(options: options, environment: env) }
        do { _ = try DaemonSettings(options: options, environment: env) } catch {
            #expect(error.description.contains(names), "\(error.description)")
        }
    }
}
