package http

// RouteTable exposes the role × route matrix to TestRoleMatrix and TestOpenAPI_Roles.
func RouteTable(s *Server) []Route { return s.routeTable() }
