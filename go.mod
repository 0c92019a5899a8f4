module tapestry

go 1.26
