package resolvertest
import ("testing";"time")
func TestZZTime(t *testing.T){ n:=defaultNet(t); s:=time.Now(); startNSD(t,n); t.Logf("start %v", time.Since(s)); t.Cleanup(func(){ t.Logf("cleanup begins %v", time.Since(s))}) }
