// Package outbox will write the status files partners collect (CPPStatut
// XML, JSON). It is empty until the daemon lands.
package outbox
