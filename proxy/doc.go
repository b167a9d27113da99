// Package proxy is the HTTP front of cutover. It sits before the legacy
// service and, per workflow and per request, lets legacy answer (mirroring
// the request as a shadow event when the flag says so) or lets the async
// pipeline answer (publishing a live event and awaiting its outcome).
// Requests that match no workflow pass through to legacy untouched.
//
// The primary path never waits on the backend: shadow events and legacy
// outcomes go through a bounded buffer to a batched writer, and when the
// buffer is full they are dropped and counted rather than slowing anyone.
package proxy
