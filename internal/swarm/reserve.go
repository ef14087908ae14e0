package swarm

import "container/heap"

// reserve is an indexed heap of candidates in AssignStripes' order, best first (the
// non-seeding uploaders, from which a departed seeder's heir is taken in O(log n)
// instead of re-ranking the whole swarm) or, with weakestFirst, weakest first (the
// seeders, the weakest of whom a stronger newcomer replaces).
type reserve struct {
	items        []ranked
	at           map[string]int // id → index in items
	weakestFirst bool
}

// top returns the first candidate; the heap must not be empty.
func (r *reserve) top() ranked { return r.items[0] }

func (r *reserve) init() {
	r.at = make(map[string]int, len(r.items))
	for i, c := range r.items {
		r.at[c.ID] = i
	}
	heap.Init(r)
}

func (r *reserve) push(c ranked) {
	if r.at == nil {
		r.at = make(map[string]int)
	}
	if _, ok := r.at[c.ID]; ok {
		return
	}
	heap.Push(r, c)
}

// pop removes and returns the best candidate.
func (r *reserve) pop() (ranked, bool) {
	if len(r.items) == 0 {
		return ranked{}, false
	}
	return heap.Pop(r).(ranked), true
}

func (r *reserve) remove(id string) {
	if i, ok := r.at[id]; ok {
		heap.Remove(r, i)
	}
}

// heap.Interface; use the methods above.

func (r *reserve) Len() int { return len(r.items) }
func (r *reserve) Less(i, j int) bool {
	return (compareRank(r.items[i], r.items[j]) < 0) != r.weakestFirst
}
func (r *reserve) Swap(i, j int) {
	r.items[i], r.items[j] = r.items[j], r.items[i]
	r.at[r.items[i].ID], r.at[r.items[j].ID] = i, j
}
func (r *reserve) Push(x any) {
	c := x.(ranked)
	r.at[c.ID] = len(r.items)
	r.items = append(r.items, c)
}
func (r *reserve) Pop() any {
	c := r.items[len(r.items)-1]
	r.items = r.items[:len(r.items)-1]
	delete(r.at, c.ID)
	return c
}
