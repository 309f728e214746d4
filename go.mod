module flowgate

go 1.26
