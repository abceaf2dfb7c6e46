public enum LatentStatsVersion { public static let string = "0.1.0" }
