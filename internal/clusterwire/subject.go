package clusterwire

// DefaultPrefix is the subject prefix of a cluster; two clusters on one NATS system
// differ by prefix.
const DefaultPrefix = "shoal.tracker"

// Subjects, under a prefix P:
//
//	P.beat          Beat, every node, every BeatInterval (and Leaving on drain)
//	P.hello         request: Hello; every node answers with its Hello
//	P.owner.NODE    Request to the node that owns the swarm; a join is a request/reply (JoinReply)
//	P.node.NODE     Delivery to the node holding the addressees' connections
//	P.policy        PolicyChange, every node
//	P.streams       request: empty; every node answers with Streams (the swarms it owns)
//	P.store.NODE    request: StoreCall to the node owning its swarm; answered with StoreReply
//	P.resync.NODE   Beat from an owner that had declared NODE dead and sees it again:
//	                NODE restores its members of the swarms that owner owns
func BeatSubject(prefix string) string         { return prefix + ".beat" }
func HelloSubject(prefix string) string        { return prefix + ".hello" }
func OwnerSubject(prefix, node string) string  { return prefix + ".owner." + node }
func NodeSubject(prefix, node string) string   { return prefix + ".node." + node }
func PolicySubject(prefix string) string       { return prefix + ".policy" }
func StreamsSubject(prefix string) string      { return prefix + ".streams" }
func StoreSubject(prefix, node string) string  { return prefix + ".store." + node }
func ResyncSubject(prefix, node string) string { return prefix + ".resync." + node }
