// W7 Go: 100,000 goroutines pass 1,000,000 values through one buffered
// channel (50,000 producers, 50,000 consumers, 20 values each, capacity
// 1,000).  usage: go run go.go [PRODUCERS [VALUES_EACH]]  prints "done N"
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
)

func main() {
	p, k := 50000, 20
	if len(os.Args) > 1 {
		p, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		k, _ = strconv.Atoi(os.Args[2])
	}
	q := make(chan int, 1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for i := 0; i < p; i++ {
		wg.Add(1)
		go func() {
			for j := 0; j < k; j++ {
				q <- j
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < k; j++ {
				<-q
			}
			mu.Lock()
			got += k
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Printf("done %d\n", got)
}
