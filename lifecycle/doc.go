// Package lifecycle is the invoice status machine of DOMAIN.md §7 and the
// Chorus Pro guide (sections VIII to XXIII): the status codes 01 to 12 and
// their French labels, who may set which status from which (the recipient,
// or an operator on its behalf; the hub), and the rules on the comment
// (04, 05, 06) and the mandate number (08).
//
// It is data plus one pure function, Apply: it reads no store, writes no
// file and knows nothing of partners or flows. The router asks it whether
// an update applies and records what it answers. It imports only the root
// package flowgate (for Finding).
package lifecycle
