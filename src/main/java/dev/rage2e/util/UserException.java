package dev.rage2e.util;

/**
 * An error caused by the user's input (a file, a flag, a request) rather than by a bug. The CLI
 * prints only its one-line message and exits non-zero; messages name the file, line/field and problem.
 */
public class UserException extends RuntimeException {
    public UserException(String message) {
        super(message);
    }

    public UserException(String message, Throwable cause) {
        super(message, cause);
    }

    /** "FILE:LINE: problem" (line omitted when unknown, i.e. {@code line <= 0}). */
    public static UserException at(Object file, long line, String problem) {
        return new UserException(file + (line > 0 ? ":" + line : "") + ": " + problem);
    }
}
