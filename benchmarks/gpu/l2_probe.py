import torch, time
dev='cuda'
n = (15*2**20)//4
src = torch.empty(n, device=dev).uniform_(-1,1)
def t(fn, reps=20):
    for _ in range(3): fn()
    torch.cuda.synchronize()
    s=torch.cuda.Event(enable_timing=True); e=torch.cuda.Event(enable_timing=True)
    ts=[]
    for _ in range(reps):
        s.record(); fn(); e.record(); e.synchronize(); ts.append(s.elapsed_time(e)/1e3)
    ts.sort(); return ts[len(ts)//2]
passes=68
view=src.unsqueeze(0).expand(passes,n)
rows=torch.empty(passes,device=dev); out=torch.empty((),device=dev)
for name,fn in [("sum dim1 rows", lambda: torch.sum(view,dim=1,out=rows)),
                ("sum all", lambda: torch.sum(view,dim=(0,1),out=out)),
                ("amax dim1", lambda: torch.amax(view,dim=1))]:
    dt=t(fn); print(name, f"{passes*n*4/dt/1e12:.2f} TB/s")
# graph of copies on 8 MiB halves
a=src[:n//2]; b=torch.empty_like(a)
g=torch.cuda.CUDAGraph(); st=torch.cuda.Stream()
with torch.cuda.stream(st):
    for _ in range(3): b.copy_(a)
torch.cuda.synchronize()
with torch.cuda.graph(g):
    for _ in range(200): b.copy_(a)
dt=t(lambda: g.replay(), 10); print("graph copy 2x7.5MiB x200", f"{200*2*a.numel()*4/dt/1e12:.2f} TB/s")
