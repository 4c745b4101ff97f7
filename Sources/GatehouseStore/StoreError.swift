import GatehouseCore
import PostgresNIO
import SQLiteNIO

/// Maps driver errors to ``GatehouseError`` codes, so nothing engine-specific leaks upward.
enum StoreError {
    static func map(_ error: any Error) -> any Error {
        if error is GatehouseError || error is CancellationError { return error }
        if let error = error as? SQLiteError {
            switch error.reason {
            case .constraint, .constraintUniqueFailed, .constraintPrimaryKeyFailed, .constraintForeignKeyFailed:
                return GatehouseError(.conflict, "the change conflicts with existing data")
            case .busy, .busyTimeout, .busyInRecovery, .locked, .cantOpen, .ioError, .full, .readOnly:
                return GatehouseError(.unavailable, "the database is not available")
            default:
                return error
            }
        }
        if let error = error as? SQLiteWriterError {
            switch error.primary {
            case 19:  // SQLITE_CONSTRAINT
                return GatehouseError(.conflict, "the change conflicts with existing data")
            case 5, 6, 8, 10, 13, 14:  // BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN
                return GatehouseError(.unavailable, "the database is not available")
            default:
                return error
            }
        }
        if let error = error as? PSQLError {
            if let state = error.serverInfo?[.sqlState] {
                if state == "23505" || state == "23503" {
                    return GatehouseError(.conflict, "the change conflicts with existing data")
                }
                if state.hasPrefix("08") || state.hasPrefix("57") || state.hasPrefix("53") {
                    return GatehouseError(.unavailable, "the database is not available")
                }
                return error
            }
            return GatehouseError(.unavailable, "the database is not available")
        }
        return error
    }
}
