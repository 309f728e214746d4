// Package router carries each claimed flow through: it reads and checks it
// (parser, validator), records the decision in the store, delivers each
// accepted invoice to its recipient's inbox and returns each rejected one
// to its sender, writes the status files (through outbox), and archives
// the original; exactly once, and crash-safe (see Router). A flow it cannot
// process (a crash, a panic, flow_timeout, an unreadable or changed file)
// is quarantined after its attempts, never retried for ever; what it holds
// in memory at once is bounded by Budgets.
//
// It owns the order of those steps and the names of what it writes; it
// does not watch folders (flows) or render status files (outbox).
package router
