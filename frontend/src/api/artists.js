import { api } from './client'
import { dashboardSchema } from './schemas'

/** My earnings per day (last `days` days) and per style, and the licences recently sold. */
export const getDashboard = (days = 30) =>
  api.get('/artists/me/dashboard', { params: { days }, schema: dashboardSchema })
