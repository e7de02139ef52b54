/**
 * The HTTP API and page: admission control, shared read-only models with atomic reload, the admin token.
 *
 * <p>Layer 18 of 19: uses only packages of lower layers (the order: the README's architecture table,
 * {@code PackageCyclesTest.LAYERS}, which the test enforces).
 */
package dev.rage2e.serve;
