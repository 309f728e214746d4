// Package flowgate holds the vocabulary of the hub: invoices as read from UBL,
// exact decimal amounts, findings of the integration checks, and the outcome
// of a flow. It imports nothing of ours; parser, validator, router and the
// adapters depend on it, never the reverse.
package flowgate
