// Package flows will own the sources of deposited flows: partners' local
// drop folders and SFTP. It is empty until the daemon lands; flowgate
// validate reads the files named on its command line.
package flows
