// Package router will deliver each accepted invoice to its recipient's inbox
// and return each rejected one to its sender, exactly once and crash-safe.
// It is empty until the daemon lands.
package router
