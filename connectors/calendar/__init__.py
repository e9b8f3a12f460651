"""Calendar sources: ical (iCalendar text -> meetings with me), ics (a file or URL), caldav."""
