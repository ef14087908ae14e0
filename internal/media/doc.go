// Package media holds shoal's HLS helpers: parsing and validating ingested playlists
// (on gohlslib's playlist package), rendering the playlists the origin publishes, the
// published segment naming scheme, and sniffing segment containers.
package media
