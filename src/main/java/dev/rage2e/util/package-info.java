/**
 * Atomic files, JSON, user errors that name file and line, and {@link dev.rage2e.util.Swappable}, the one reference-counted atomic swap.
 *
 * <p>Layer 1 of 19: may use none (the JDK and libraries only); never a package after it ({@code PackageCyclesTest} keeps the
 * packages acyclic, the README's architecture table lists the order).
 */
package dev.rage2e.util;
